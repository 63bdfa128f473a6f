"""Validators of what users type in paths, query strings and the command line: the API, the
dashboard and `prmonitor` answer the same mistakes with the same words."""

import re

# GitHub's owner and repository names: letters, digits, '-', '_' and '.', at most 100 each.
REPO_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
# PR numbers, run numbers and row ids are stored as 32-bit integers.
MAX_NUMBER = 2**31 - 1
DIGITS = re.compile(r"[0-9]{1,12}")


class BadRequest(ValueError):
    """A parameter that cannot be used; the message says what a valid one looks like."""


def positive_int(raw, what):
    """`raw` as a number from 1 to MAX_NUMBER, or BadRequest naming `what` and the bound."""
    return bounded_int(raw, what, most=MAX_NUMBER)


def bounded_int(raw, what, default=None, most=MAX_NUMBER):
    """`raw` as a number from 1 to `most`; `default` when it is None (absent)."""
    if raw is None and default is not None:
        return default
    if raw is None or not DIGITS.fullmatch(raw) or not 0 < int(raw) <= most:
        raise BadRequest(f"{what} must be a whole number from 1 to {most:,}")
    return int(raw)


PR_STATES = ("open", "closed", "merged")


def pr_state(raw):
    """A PR state to filter by (None passes), or BadRequest."""
    if raw is None or raw in PR_STATES:
        return raw
    raise BadRequest(f"state must be one of {', '.join(PR_STATES)}")


def pr_status(raw):
    """A CI status to filter the PR list by (None passes), or BadRequest."""
    from prmonitor.storage.listing import STATUSES

    if raw is None or raw in STATUSES:
        return raw
    raise BadRequest(f"status must be one of {', '.join(STATUSES)}")


def search_text(raw):
    """What to look for in the PR list: a number or a title's words, at most 200 characters."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > 200 or "\x00" in raw:
        raise BadRequest("search must be a PR number or up to 200 characters of its title")
    return raw


def pr_cursor(raw):
    """The `after` of a page of PRs, as the last page's `next` gave it (None passes)."""
    from prmonitor.storage.listing import PR_CURSOR

    if raw is None or PR_CURSOR.fullmatch(raw):
        return raw
    raise BadRequest("after must be the `next` of the previous page")


def repo_name(raw):
    """`raw` when it is an owner/name (None passes), or BadRequest."""
    if raw is None:
        return None
    if not REPO_NAME.fullmatch(raw):
        raise BadRequest("repo must look like owner/name")
    return raw
