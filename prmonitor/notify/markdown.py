"""Markdown for GitHub from text that comes from logs and names: whatever a job name, a step or
a log line holds, it cannot break the comment's Markdown, inject HTML or @mention anyone.

GitHub renders comments as GitHub Flavored Markdown and then links @mentions in the text
(not inside code): https://github.github.com/gfm/ and
https://docs.github.com/en/get-started/writing-on-github/getting-started-with-writing-and-formatting-on-github/basic-writing-and-formatting-syntax#mentioning-people-and-teams
"""

import html
import re
from urllib.parse import quote, urlsplit

# Backslash escapes: GFM allows one before any ASCII punctuation.
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>&:$])")
_BACKTICKS = re.compile(r"`+")
ZERO_WIDTH_SPACE = "\u200b"
LINE_MAX = 300


def text(value, limit=200):
    """Plain text on one line: punctuation escaped, so no Markdown, HTML, math or autolink
    starts; neither an @ nor a # can start a mention or a reference (`#123`, `o/r#1`: GitHub
    links them after rendering, escaped or not), a zero-width space follows each."""
    value = one_line(value, limit)
    value = _PUNCTUATION.sub(r"\\\1", value)
    return _unlinked(value)


def _unlinked(value):
    return value.replace("@", "@" + ZERO_WIDTH_SPACE).replace("#", "#" + ZERO_WIDTH_SPACE)


def html_text(value, limit=200):
    """Text inside raw HTML (a <summary>): GFM leaves an HTML block's line as it is, so it is
    HTML-escaped instead of backslash-escaped; no mention either."""
    return _unlinked(html.escape(one_line(value, limit), quote=False))


def one_line(value, limit=LINE_MAX):
    """The value on one line (control characters as spaces), cut to `limit` characters."""
    value = "".join(" " if ord(c) < 32 or c == "\x7f" else c for c in str(value or ""))
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def code_span(value, limit=LINE_MAX):
    """Inline code: a fence one backtick longer than any run of backticks inside, padded when
    the text starts or ends with one (GFM 6.1). Nothing inside a code span is Markdown, HTML
    or a mention."""
    value = one_line(value, limit)
    fence = "`" * (_longest_run(value) + 1)
    if value.startswith("`") or value.endswith("`"):
        value = f" {value} "
    return f"{fence}{value}{fence}"


def code_block(value, info="text"):
    """A fenced code block longer than any backtick run inside (GFM 4.5): `</details>` or a
    fence inside stays text."""
    lines = [line.rstrip() for line in str(value or "").replace("\r", "").split("\n")]
    body = "\n".join(
        "".join(" " if ord(c) < 32 and c != "\t" else c for c in line) for line in lines
    )
    fence = "`" * max(3, _longest_run(body) + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def link(label, url):
    """`[label](url)` with `label` already Markdown; just the label when the URL is not an
    http(s) URL (a javascript: URL never becomes a link)."""
    safe = safe_url(url)
    return f"[{label}]({safe})" if safe else label


def safe_url(url):
    """The URL when it is http(s), with the characters that would end a Markdown link
    percent-encoded; else None."""
    if not isinstance(url, str) or not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https"):
        return None
    return quote(url, safe=":/?#@!$&'*+,;=%-._~")


def _longest_run(value):
    return max((len(run) for run in _BACKTICKS.findall(value)), default=0)
