"""How the fake GitHub fails when a test says so: errors, delays and secondary rate limits
for the next requests matching a path."""

import re
from dataclasses import dataclass

from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

from .http import json_response

# https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
SECONDARY_LIMIT = (
    "You have exceeded a secondary rate limit and have been temporarily blocked from content "
    "creation. Please retry your request again later."
)
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)


@dataclass
class Fault:
    pattern: re.Pattern
    method: str | None
    status: int | None
    times: int
    retry_after: int | None
    delay: float | None
    body: object


class Faults:
    """`_faults`: what inject() set up and no request has used yet."""

    def inject(
        self,
        path_pattern,
        status=502,
        times=1,
        retry_after=None,
        delay=None,
        method="GET",
        body=None,
    ):
        """The next `times` matching requests get this fault; `method=None` matches any method."""
        with self._lock:
            fault = Fault(
                re.compile(path_pattern),
                method.upper() if method else None,
                status,
                times,
                retry_after,
                delay,
                body,
            )
            self._faults.append(fault)

    def clear_faults(self):
        """The faults inject() set up and no request has used yet end: GitHub is back."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, request):
        with self._lock:
            for fault in self._faults:
                if fault.method not in (None, request.method):
                    continue
                if fault.pattern.search(request.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def fault_response(fault):
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    body = fault.body
    if body is None and fault.status in (403, 429) and fault.retry_after is not None:
        body = {"message": SECONDARY_LIMIT, "documentation_url": SECONDARY_DOCS}
    elif body is None:
        reason = "Server Error" if fault.status >= 500 else HTTP_STATUS_CODES.get(fault.status)
        body = {"message": reason}
    if isinstance(body, dict | list):
        return json_response(fault.status, body, headers)
    return Response(body, status=fault.status, headers=headers, content_type="text/plain")
