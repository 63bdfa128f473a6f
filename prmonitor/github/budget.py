"""The rate-limit budgets: what GitHub's X-RateLimit-* headers say is left, the poller's share of
it, and the blocks a rate-limit answer puts on further calls; and the client's call counts.

GitHub's rules it follows:
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from prmonitor.config import DIGITS
from prmonitor.github.errors import RateLimited

log = logging.getLogger(__name__)

# A secondary-limit Retry-After up to this long is waited out inside the call; a longer one (or a
# spent primary limit, which resets within the hour) ends the call with RateLimited instead.
MAX_INLINE_WAIT = 60
# The poller leaves this share of each installation's hourly limit to other work, and spreads
# what is above it over at most this many cycles.
RESERVE = 0.2
HORIZON = 10


@dataclass
class Stats:
    """Counts of calls since the last snapshot: all answers, 304s, those counted against the
    rate limit, rate-limit answers, retries."""

    calls: int = 0
    not_modified: int = 0
    counted: int = 0
    rate_limited: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts):
        """Add to the named counts."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def take(self):
        """The counts so far as a dict, starting again from zero."""
        with self._lock:
            taken = {name: getattr(self, name) for name in STAT_NAMES}
            for name in STAT_NAMES:
                setattr(self, name, 0)
        return taken


STAT_NAMES = ("calls", "not_modified", "counted", "rate_limited", "retries")


@dataclass
class _Budget:
    remaining: int | None = None
    reset_at: float = 0.0
    limit: int | None = None
    cycle_start: int | None = None  # `remaining` when the poller's cycle first saw this budget
    blocked_until: float = 0.0  # a rate-limit answer said: nothing before then


class Budgets:
    """The rate-limit budget of each bucket a call is counted against: an installation id,
    "token" (a personal/Actions token) or "app" (the App's JWT). Shared by every thread.

    `stats` gets the call counts; `sleep` waits out a short secondary limit; the `attempts`-th
    rate-limit answer to one call ends it.
    """

    def __init__(self, stats, sleep=time.sleep, attempts=4):
        self.stats, self._sleep, self.attempts = stats, sleep, attempts
        self.buckets = {}  # bucket -> _Budget
        self._lock = threading.Lock()

    def account(self, bucket, response, as_app):
        """Count one answer, and take what its X-RateLimit-* headers say is left."""
        not_modified = response.status_code == 304
        counted = not (not_modified or as_app or response.status_code == 401)
        self.stats.add(calls=1, not_modified=int(not_modified), counted=int(counted))
        remaining = _count(response.headers.get("X-RateLimit-Remaining"))
        if remaining is None:
            return
        with self._lock:
            budget = self.buckets.setdefault(bucket, _Budget())
            budget.remaining = remaining
            budget.reset_at = _count(response.headers.get("X-RateLimit-Reset")) or time.time() + 60
            limit = _count(response.headers.get("X-RateLimit-Limit"))
            budget.limit = budget.limit if limit is None else limit
            if budget.cycle_start is None:
                budget.cycle_start = budget.remaining

    def start_cycle(self):
        """A poll cycle begins: may_spend measures this cycle's spending from here."""
        with self._lock:
            for budget in self.buckets.values():
                budget.cycle_start = budget.remaining

    def may_spend(self, installation, interval, reserve=RESERVE, horizon=HORIZON):
        """Whether the poller may make more optional calls (that GitHub may count) this cycle.

        A cycle may spend an even share, over the next `horizon` cycles or the cycles left
        until the reset if fewer, of what is left above a `reserve` share of the limit: a cold
        start catches up within the hour without spending the budget other work needs."""
        with self._lock:
            budget = self.buckets.get(installation or "token")
            if budget is None or budget.remaining is None or budget.cycle_start is None:
                return True
            cycles_left = max(1.0, min(horizon, (budget.reset_at - time.time()) / interval))
            spare = budget.cycle_start - reserve * (budget.limit or budget.cycle_start)
            spent = budget.cycle_start - budget.remaining
            return spent < spare / cycles_left

    def block(self, bucket, until, replace=False):
        """No call on `bucket` before `until` (epoch seconds); `replace` lifts an earlier block."""
        with self._lock:
            budget = self.buckets.setdefault(bucket, _Budget())
            budget.blocked_until = until if replace else max(budget.blocked_until, until)

    def check(self, bucket):
        """Never spend a call that GitHub would refuse: wait for the reset instead."""
        with self._lock:
            budget = self.buckets.get(bucket)
        if budget is None:
            return
        now = time.time()
        if budget.blocked_until > now:
            raise RateLimited(f"rate limited for {bucket}", budget.blocked_until)
        if budget.remaining == 0 and budget.reset_at > now:
            raise RateLimited(f"rate limit spent for {bucket}", budget.reset_at)

    def wait_out(self, response, bucket, limited):
        """The `limited`-th rate-limit answer to one call: wait out a short Retry-After, else
        give up until the reset. Either way the budget is blocked until then, for every caller.

        https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#handle-rate-limit-errors-appropriately
        """
        self.stats.add(rate_limited=1)
        retry_after = response.headers.get("Retry-After", "")
        now = time.time()
        if response.headers.get("X-RateLimit-Remaining") == "0":
            reset = response.headers.get("X-RateLimit-Reset", "")
            reset_at = _count(reset) or now + 60
            self.block(bucket, reset_at)
            raise RateLimited(f"rate limit spent for {bucket}", reset_at)
        # A secondary limit: Retry-After when given, else a minute, doubling while it lasts.
        wait = _count(retry_after)
        if wait is None:
            wait = 60 * 2 ** (limited - 1)
        # Remembered, so that no call on this budget goes out before then, next cycle
        # included: GitHub may ban an integration that keeps calling while limited.
        self.block(bucket, now + wait)
        if wait > MAX_INLINE_WAIT or limited >= self.attempts:
            raise RateLimited(f"secondary rate limit for {bucket}", now + wait)
        log.warning("github secondary rate limit; waiting %ds", wait)
        self._sleep(wait)
        self.block(bucket, 0, replace=True)  # waited out


def is_rate_limited(response):
    """Whether an answer is GitHub refusing a call for a rate limit, primary or secondary."""
    if response.status_code not in (403, 429):
        return False
    if response.status_code == 429 or "Retry-After" in response.headers:
        return True
    if response.headers.get("X-RateLimit-Remaining") == "0":
        return True
    return "rate limit" in response.text.lower()


def _count(header):
    """A header's whole number, or None when it is missing or not one (str.isdigit() also
    accepts "²", which int() refuses)."""
    return int(header) if header and DIGITS.fullmatch(header) else None
