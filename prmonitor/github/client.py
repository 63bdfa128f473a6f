"""GitHub REST client: App JWT, installation-token cache, ETags, pagination, rate limits, timeouts.

Every call prmonitor makes to GitHub goes through `GitHub.request`. GitHub's rules it follows:
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api and
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

import datetime
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

import jwt
import requests

from prmonitor.config import DIGITS

log = logging.getLogger(__name__)

USER_AGENT = "prmonitor (+https://github.com/apps)"
API_VERSION = "2022-11-28"
# An installation token lives one hour; a new one is minted this long before it expires.
TOKEN_MARGIN = 300
# A secondary-limit Retry-After up to this long is waited out inside the call; a longer one (or a
# spent primary limit, which resets within the hour) ends the call with RateLimited instead.
MAX_INLINE_WAIT = 60
# The poller leaves this share of each installation's hourly limit to other work, and spreads
# what is above it over at most this many cycles.
RESERVE = 0.2
HORIZON = 10


class GitHubError(Exception):
    """An answer from GitHub that is not the one asked for."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class NotFound(GitHubError):
    pass


class Unavailable(GitHubError):
    """GitHub could not be reached, or kept answering 5xx, after every retry."""


class RateLimited(GitHubError):
    """No call may be made on this budget before `reset_at` (epoch seconds)."""

    def __init__(self, message, reset_at):
        super().__init__(message, status=403)
        self.reset_at = reset_at


def app_jwt(app_id, private_key, now=None):
    """The App's JWT: RS256, issued 60 s in the past against clock drift, valid for 9 minutes.

    https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
    PyJWT >= 2.11 refuses an integer `iss`: the App id goes as a string.
    """
    now = int(time.time() if now is None else now)
    claims = {"iat": now - 60, "exp": now + 540, "iss": str(app_id)}
    return jwt.encode(claims, private_key, algorithm="RS256")


@dataclass
class Page:
    """One answer: its JSON body (the stored one after a 304), ETag and next-page link."""

    url: str
    body: object
    etag: str | None = None
    not_modified: bool = False
    next_url: str | None = None
    key: str | None = None  # what httpcache files it under (GitHub.cache_key); None: the URL

    @property
    def cache_key(self):
        return self.key or self.url


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


class GitHub:
    """A client for one GitHub (github.com or an Enterprise Server), authenticated as the App
    (`app_id` and `private_key`) or with a personal/Actions `token`.

    `etags.get(key)` gives the Page stored under a cache_key, or None (see httpcache); the
    caller stores a page once it has used it, so a page whose handling failed is fetched again
    in full.
    """

    def __init__(
        self,
        api_url="https://api.github.com",
        app_id=None,
        private_key=None,
        token=None,
        etags=None,
        timeout=(5, 30),
        attempts=4,
        backoff=1.0,
        sleep=time.sleep,
    ):
        if not (token or (app_id and private_key)):
            raise ValueError("GitHub needs App credentials or a token")
        self.api_url = api_url.rstrip("/") + "/"
        self.app_id, self._private_key, self._token = app_id, private_key, token
        self.etags = etags
        self.timeout, self.attempts, self.backoff, self._sleep = timeout, attempts, backoff, sleep
        self.stats = Stats()
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "User-Agent": USER_AGENT,
                "X-GitHub-Api-Version": API_VERSION,
            }
        )
        self._tokens = {}  # installation id -> (token, expires_at epoch)
        self._app_jwt = None  # (jwt, expires_at epoch)
        self._token_lock = threading.RLock()
        self._budgets = {}
        self._budget_lock = threading.Lock()

    @classmethod
    def from_config(cls, config, **options):
        return cls(
            config.github_api_url,
            app_id=config.app_id,
            private_key=config.private_key,
            token=config.github_token,
            **options,
        )

    @property
    def is_app(self):
        return bool(self.app_id and self._private_key)

    def close(self):
        self._session.close()

    # -- calls ---------------------------------------------------------------------------------

    def get(self, path, params=None, installation=None, as_app=False, conditional=True):
        """GET one page as `installation` (or with the token, or `as_app` with the JWT); with
        `conditional`, send the stored ETag and take the stored body on a 304."""
        url = self.url(path, params)
        key = self.cache_key(url, installation)
        stored = self.etags.get(key) if (conditional and self.etags) else None
        headers = {"If-None-Match": stored.etag} if stored else {}
        response = self.request("GET", url, installation, as_app, headers)
        if response.status_code == 304 and stored:
            # A 304 need not carry the Link header: the next page is the one stored.
            return Page(url, stored.body, stored.etag, True, stored.next_url, key)
        etag, next_url = response.headers.get("ETag"), _next_url(response)
        return Page(url, _json(response), etag, False, next_url, key)

    @staticmethod
    def cache_key(url, installation=None):
        """What an answer is stored under: its URL, and the installation that asked, since
        some answers depend on who asks (GET /installation/repositories lists the asking
        installation's repositories, at the same URL for every installation)."""
        return f"installation {installation}: {url}" if installation else url

    def get_pages(self, path, params=None, installation=None, as_app=False, limit=10):
        """Every page of a listing, following GitHub's Link headers (at most `limit` pages)."""
        pages = [self.get(path, params, installation, as_app)]
        while pages[-1].next_url and len(pages) < limit:
            pages.append(self.get(pages[-1].next_url, None, installation, as_app))
        return pages

    def download(self, path, installation=None):
        """The text behind a redirect to a short-lived signed URL (a job's log). The storage
        host gets no Authorization header: it must not see the token, and refuses one.
        https://docs.github.com/en/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run
        """
        response = self.request("GET", self.url(path), installation, redirect=False)
        location = response.headers.get("Location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            return response.text
        try:
            blob = requests.get(location, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unavailable(f"GET {_path(path)} log: {type(exc).__name__}") from None
        if blob.status_code != 200:
            raise GitHubError(f"GET {_path(path)} log: {blob.status_code}", blob.status_code)
        return blob.text

    def post(self, path, body=None, installation=None, as_app=False):
        response = self.request("POST", self.url(path), installation, as_app, {}, body)
        return _json(response) if response.content else None

    def url(self, path, params=None):
        url = path if "://" in path else urljoin(self.api_url, path.lstrip("/"))
        return f"{url}?{urlencode(params)}" if params else url

    def request(
        self, method, url, installation=None, as_app=False, headers=None, body=None, redirect=True
    ):
        """One call with retries: connection errors and 5xx back off and retry, a secondary
        rate limit is waited out, an expired installation token is replaced once."""
        bucket = "app" if as_app else (installation or "token")
        renewed, limited = False, 0
        for attempt in range(1, self.attempts + 1):
            self._check_budget(bucket)
            sent = {**(headers or {}), "Authorization": self._authorization(installation, as_app)}
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=sent,
                    json=body,
                    timeout=self.timeout,
                    allow_redirects=redirect,
                )
            except requests.RequestException as exc:
                self._retry_or_raise(attempt, f"{method} {_path(url)}: {type(exc).__name__}")
                continue
            self._account(bucket, response, as_app)
            if response.status_code >= 500:
                self._retry_or_raise(attempt, f"{method} {_path(url)}: {response.status_code}")
                continue
            if response.status_code == 401 and installation and not renewed:
                # The token may have expired or been revoked early: mint a new one, once.
                self.forget_token(installation)
                renewed = True
                continue
            if _is_rate_limited(response):
                limited += 1
                self._wait_out(response, bucket, limited)
                continue
            return _checked(response, method, url)
        raise Unavailable(f"{method} {_path(url)}: no answer after {self.attempts} tries")

    def _retry_or_raise(self, attempt, what):
        if attempt >= self.attempts:
            raise Unavailable(f"{what} after {attempt} tries")
        self.stats.add(retries=1)
        delay = self.backoff * 2 ** (attempt - 1) * (0.5 + random.random() / 2)
        log.info("github retry=%d in=%.1fs %s", attempt, delay, what)
        self._sleep(delay)

    # -- rate limits ---------------------------------------------------------------------------

    def _account(self, bucket, response, as_app):
        not_modified = response.status_code == 304
        counted = not (not_modified or as_app or response.status_code == 401)
        self.stats.add(calls=1, not_modified=int(not_modified), counted=int(counted))
        remaining = _count(response.headers.get("X-RateLimit-Remaining"))
        if remaining is None:
            return
        with self._budget_lock:
            budget = self._budgets.setdefault(bucket, _Budget())
            budget.remaining = remaining
            budget.reset_at = _count(response.headers.get("X-RateLimit-Reset")) or time.time() + 60
            limit = _count(response.headers.get("X-RateLimit-Limit"))
            budget.limit = budget.limit if limit is None else limit
            if budget.cycle_start is None:
                budget.cycle_start = budget.remaining

    def start_cycle(self):
        """A poll cycle begins: may_spend measures this cycle's spending from here."""
        with self._budget_lock:
            for budget in self._budgets.values():
                budget.cycle_start = budget.remaining

    def may_spend(self, installation, interval, reserve=RESERVE, horizon=HORIZON):
        """Whether the poller may make more optional calls (that GitHub may count) this cycle.

        A cycle may spend an even share, over the next `horizon` cycles or the cycles left
        until the reset if fewer, of what is left above a `reserve` share of the limit: a cold
        start catches up within the hour without spending the budget other work needs."""
        with self._budget_lock:
            budget = self._budgets.get(installation or "token")
            if budget is None or budget.remaining is None or budget.cycle_start is None:
                return True
            cycles_left = max(1.0, min(horizon, (budget.reset_at - time.time()) / interval))
            spare = budget.cycle_start - reserve * (budget.limit or budget.cycle_start)
            spent = budget.cycle_start - budget.remaining
            return spent < spare / cycles_left

    def _block(self, bucket, until, replace=False):
        with self._budget_lock:
            budget = self._budgets.setdefault(bucket, _Budget())
            budget.blocked_until = until if replace else max(budget.blocked_until, until)

    def _check_budget(self, bucket):
        """Never spend a call that GitHub would refuse: wait for the reset instead."""
        with self._budget_lock:
            budget = self._budgets.get(bucket)
        if budget is None:
            return
        now = time.time()
        if budget.blocked_until > now:
            raise RateLimited(f"rate limited for {bucket}", budget.blocked_until)
        if budget.remaining == 0 and budget.reset_at > now:
            raise RateLimited(f"rate limit spent for {bucket}", budget.reset_at)

    def _wait_out(self, response, bucket, limited):
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
            self._block(bucket, reset_at)
            raise RateLimited(f"rate limit spent for {bucket}", reset_at)
        # A secondary limit: Retry-After when given, else a minute, doubling while it lasts.
        wait = _count(retry_after)
        if wait is None:
            wait = 60 * 2 ** (limited - 1)
        # Remembered, so that no call on this budget goes out before then, next cycle
        # included: GitHub may ban an integration that keeps calling while limited.
        self._block(bucket, now + wait)
        if wait > MAX_INLINE_WAIT or limited >= self.attempts:
            raise RateLimited(f"secondary rate limit for {bucket}", now + wait)
        log.warning("github secondary rate limit; waiting %ds", wait)
        self._sleep(wait)
        self._block(bucket, 0, replace=True)  # waited out

    # -- authentication ------------------------------------------------------------------------

    def _authorization(self, installation, as_app):
        if as_app:
            return f"Bearer {self._jwt()}"
        if installation and self.is_app:
            return f"token {self.installation_token(installation)}"
        if self._token:
            return f"token {self._token}"
        raise GitHubError("an installation id is needed to call GitHub as the App")

    def _jwt(self):
        """The App's JWT, reused while it has more than a minute left: GitHub's ETags are
        specific to the credential, so a new JWT per call would never get a 304."""
        if not self.is_app:
            raise GitHubError("this call needs App credentials (APP_ID and PRIVATE_KEY)")
        with self._token_lock:
            now = time.time()
            if self._app_jwt is None or self._app_jwt[1] - 60 < now:
                self._app_jwt = (app_jwt(self.app_id, self._private_key, now), now + 540)
            return self._app_jwt[0]

    def installation_token(self, installation):
        """A cached installation token, minted again a few minutes before it expires.

        https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app
        """
        with self._token_lock:
            cached = self._tokens.get(installation)
            if cached and cached[1] - TOKEN_MARGIN > time.time():
                return cached[0]
            answer = self.post(f"app/installations/{installation}/access_tokens", as_app=True)
            token, expires_at = answer["token"], _epoch(answer.get("expires_at"))
            self._tokens[installation] = (token, expires_at)
            log.info("github installation=%s token minted", installation)
            return token

    def forget_token(self, installation):
        with self._token_lock:
            self._tokens.pop(installation, None)


def _is_rate_limited(response):
    if response.status_code not in (403, 429):
        return False
    if response.status_code == 429 or "Retry-After" in response.headers:
        return True
    if response.headers.get("X-RateLimit-Remaining") == "0":
        return True
    return "rate limit" in response.text.lower()


def _checked(response, method, url):
    if response.status_code < 400:
        return response
    message = _message(response)
    if response.status_code == 404:
        raise NotFound(f"{method} {_path(url)}: not found", 404)
    raise GitHubError(
        f"{method} {_path(url)}: {response.status_code} {message}", response.status_code
    )


def _message(response):
    try:
        return str(response.json().get("message", ""))[:200]
    except (ValueError, AttributeError):
        return ""


def _json(response):
    try:
        return response.json()
    except ValueError:
        status = response.status_code
        raise GitHubError(f"{_path(response.url)}: the answer is not JSON", status) from None


def _next_url(response):
    return response.links.get("next", {}).get("url")


def _path(url):
    """The URL without scheme and host, for log lines and errors."""
    return url.split("://", 1)[-1].partition("/")[2].partition("?")[0]


def _epoch(iso):
    """GitHub's ISO 8601 time as epoch seconds; an hour from now when absent or unreadable."""
    try:
        return datetime.datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return time.time() + 3600


def _count(header):
    """A header's whole number, or None when it is missing or not one (str.isdigit() also
    accepts "²", which int() refuses)."""
    return int(header) if header and DIGITS.fullmatch(header) else None
