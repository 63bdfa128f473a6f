"""The errors the GitHub client raises (one base class and the three cases callers tell apart),
and which of them an answer that is not a success raises."""


class GitHubError(Exception):
    """An answer from GitHub that is not the one asked for."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class NotFound(GitHubError):
    """GitHub answered 404: the object is gone, or this credential may not see it."""


class Unavailable(GitHubError):
    """GitHub could not be reached, or kept answering 5xx, after every retry."""


class RateLimited(GitHubError):
    """No call may be made on this budget before `reset_at` (epoch seconds)."""

    def __init__(self, message, reset_at):
        super().__init__(message, status=403)
        self.reset_at = reset_at


def checked(response, what):
    """The answer when it is a success; else NotFound (404) or GitHubError with GitHub's
    message. `what` names the call ("GET repos/o/r/pulls") in the error."""
    if response.status_code < 400:
        return response
    if response.status_code == 404:
        raise NotFound(f"{what}: not found", 404)
    status = response.status_code
    raise GitHubError(f"{what}: {status} {_message(response)}", status)


def _message(response):
    try:
        return str(response.json().get("message", ""))[:200]
    except (ValueError, AttributeError):
        return ""
