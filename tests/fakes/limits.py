"""How the fake GitHub counts: every call recorded, the hourly rate limit per installation or
personal token (fixed windows, 304s and 401s free), and its 403 once spent."""

import re
import time
from typing import NamedTuple

from .http import json_response

HOURLY_LIMIT = 5000
PRIMARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"


class Call(NamedTuple):
    method: str
    path: str
    query: dict
    status: int
    auth: str | None  # "jwt", "installation", "personal" or None: the credential presented


class Accounting:
    """`calls` every request answered; `_buckets` each credential's rate limit."""

    def set_rate_limit(self, remaining, reset_in=3600):
        """Every bucket, and every bucket made later until the reset, has `remaining` calls left."""
        with self._lock:
            reset = int(time.time() + reset_in)
            self._rate_default = (remaining, reset)
            for bucket in self._buckets.values():
                bucket.update(remaining=remaining, reset=reset)

    def count(self, status=None, path=None, method=None):
        with self._lock:
            return sum(1 for call in self.calls if call_matches(call, status, path, method))

    @property
    def rate_limited_calls(self):
        """Calls GitHub counts against the hourly limit: token calls, except 304s and 401s."""
        with self._lock:
            counted = ("installation", "personal")
            return sum(1 for c in self.calls if c.auth in counted and c.status not in (304, 401))

    def reset_calls(self):
        with self._lock:
            self.calls.clear()

    def _bucket(self, key):
        """The bucket's state, refilled once its hour is over (GitHub's fixed window)."""
        now = time.time()
        if key not in self._buckets:
            default = self._rate_default
            remaining, reset = default if default and default[1] > now else (HOURLY_LIMIT, 0)
            self._buckets[key] = {"remaining": remaining, "reset": reset}
        bucket = self._buckets[key]
        if bucket["reset"] <= now:
            bucket.update(remaining=HOURLY_LIMIT, reset=int(now + 3600))
        return bucket

    def _primary_limit(self, exchange):
        # https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
        kind, key = exchange.bucket
        who = f"installation ID {key}" if kind == "installation" else "user ID 1"
        body = {"message": f"API rate limit exceeded for {who}.", "documentation_url": PRIMARY_DOCS}
        return json_response(403, body)

    def _account(self, exchange, response):
        """Charge the bucket (not for 304s: conditional requests are free) and record the call."""
        status = response.status_code
        if exchange.bucket:
            bucket = self._bucket(exchange.bucket)
            if status not in (304, 401) and bucket["remaining"] > 0:
                bucket["remaining"] -= 1
            response.headers.update(rate_headers(bucket))
        request = exchange.request
        query = request.args.to_dict()
        self.calls.append(Call(request.method, request.path, query, status, exchange.auth))


def call_matches(call, status, path, method):
    if status is not None and call.status != status:
        return False
    if method is not None and call.method != method.upper():
        return False
    return path is None or re.search(path, call.path) is not None


def rate_headers(bucket):
    return {
        "X-RateLimit-Limit": str(HOURLY_LIMIT),
        "X-RateLimit-Remaining": str(bucket["remaining"]),
        "X-RateLimit-Used": str(HOURLY_LIMIT - bucket["remaining"]),
        "X-RateLimit-Reset": str(bucket["reset"]),
        "X-RateLimit-Resource": "core",
    }
