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
    """`raw` as a number from 1 to MAX_NUMBER, or BadRequest naming `what`."""
    if not DIGITS.fullmatch(raw) or not 0 < int(raw) <= MAX_NUMBER:
        raise BadRequest(f"{what} must be a positive integer")
    return int(raw)


def repo_name(raw):
    """`raw` when it is an owner/name (None passes), or BadRequest."""
    if raw is None:
        return None
    if not REPO_NAME.fullmatch(raw):
        raise BadRequest("repo must look like owner/name")
    return raw
