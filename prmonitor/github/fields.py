"""Checked readers of single fields of GitHub's JSON, for the parsers in payloads.py.

Every value is checked for type and range here, so that nothing a sender can put in a payload
reaches the database as something it would refuse (a 64-bit overflow, a NUL byte in text, a
string longer than a column): bad input raises PayloadError, which the receiver answers with 400.
"""

import datetime
import re

from prmonitor.storage.models import EPOCH

MAX_BIGINT = 2**63 - 1
SHORT = 255  # CharField columns are VARCHAR(255) on Postgres
LONG = 65536


class PayloadError(ValueError):
    """A payload that does not have the shape GitHub documents."""


# -- readers ---------------------------------------------------------------------------


def obj(data, key):
    """The object under `key`; PayloadError when `data` or the value is not an object."""
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        raise PayloadError(f"'{key}' must be an object")
    return value


def optional_obj(data, key):
    """The object under `key`, or None when it is absent or not an object."""
    value = data.get(key)
    return value if isinstance(value, dict) else None


def integer(data, key, required=True):
    """A non-negative integer that fits BIGINT; None only when absent and not `required`."""
    value = data.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BIGINT:
        raise PayloadError(f"'{key}' must be a non-negative 64-bit integer")
    return value


def text(data, key, limit=SHORT, required=False):
    """A string, cleaned (clean_text) and cut to `limit`; None when absent, unless `required`."""
    value = data.get(key)
    if value is None:
        if required:
            raise PayloadError(f"'{key}' is required")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"'{key}' must be a string")
    return clean_text(value)[:limit]


def clean_text(value):
    """Drop what no database stores: NUL characters and unpaired UTF-16 surrogates."""
    if value.isascii() and "\x00" not in value:
        return value  # nearly every value GitHub sends: nothing to drop
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def strings(data, key):
    """A list of strings, each cleaned and cut to SHORT; [] when absent."""
    values = data.get(key)
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise PayloadError(f"'{key}' must be a list of strings")
    return [clean_text(value)[:SHORT] for value in values]


# GitHub's usual forms, 2026-11-20T10:00:00Z and (job steps) 2026-11-20T10:00:00.000Z: UTC
# already, after 1970, and the first 19 characters are the time at one-second resolution.
_PLAIN_UTC = re.compile(r"(?:19[7-9]\d|2\d{3})-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z", re.ASCII)


def timestamp(data, key):
    """GitHub's ISO 8601 time as naive UTC at one-second resolution, or None."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"'{key}' must be an ISO 8601 time")
    try:
        if _PLAIN_UTC.fullmatch(value):
            return datetime.datetime.fromisoformat(value[:19])
        parsed = datetime.datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise PayloadError(f"'{key}' must be an ISO 8601 time") from None
    if parsed.year < 1970:
        # Nothing on GitHub is that old, and SQLite orders stored times as text: keep 4 digits.
        raise PayloadError(f"'{key}' is before 1970")
    return parsed.replace(microsecond=0)


def iso_time(data, key):
    """timestamp() as ISO 8601 text (2026-11-20T10:00:00), as job steps store their times."""
    parsed = timestamp(data, key)
    if parsed is None:
        return None
    # GitHub's usual form, once timestamp() has checked it, is that text in its first 19
    # characters: no isoformat() for each of a job's dozen steps' two times.
    value = data[key]
    return value[:19] if _PLAIN_UTC.fullmatch(value) else parsed.isoformat()


def latest(*times):
    """The latest of the times given, ignoring None; EPOCH when there is none."""
    present = [t for t in times if t is not None]
    return max(present) if present else EPOCH


def int32(data, key, required=False):
    """integer() that also fits a 32-bit INTEGER column; None when absent, unless `required`."""
    value = integer(data, key, required=required)
    if value is not None and value > 2**31 - 1:
        raise PayloadError(f"'{key}' is out of range")
    return value
