"""Secrets out of text before it leaves for an AI (pure): GitHub tokens, AWS keys, bearer and
basic credentials, PEM blocks, `password=`-style pairs, URLs with a password, JWTs, Slack and
Anthropic keys. GitHub masks the secrets a workflow knows as `***`; a log or a diff may still
hold others (printed by a tool, committed by mistake).

Token formats: https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
and https://docs.aws.amazon.com/IAM/latest/UserGuide/security-creds.html
"""

import re

MARK = "[REDACTED]"

_END = r"(?![A-Za-z0-9])"  # not \b: a token may be followed by _ or another word character
_PATTERNS = [
    # PEM blocks, whole (private keys, certificates' keys).
    re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----.*?(?:-----END [A-Z0-9 ]*-----|\Z)",
        re.S,
    ),
    re.compile(r"(?<![A-Za-z0-9])(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{20,255}" + _END),
    re.compile(r"(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{20,255}"),
    re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}" + _END),
    re.compile(r"(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}" + _END),
    re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # a JWT
    # user:password@ in a URL
    re.compile(r"(?<=://)[^\s/:@]+:[^\s/@]+(?=@)"),
]

# Values after a key that says what they are (`KEY=value`, `key: "value"`, `--key value`); the
# key stays, the value goes, a quoted one whole.
_KEY = (
    r"[\w.-]*(?:password|passwd|pwd|pass|secret|token|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|credentials?)[\w.-]*"
)
_PAIRS = re.compile(
    r"(?i)(\b(?:authorization|proxy-authorization)\s*[:=]\s*(?:bearer|basic|token)?\s*"
    rf"|(?<![\w]){_KEY}[\"']?\s*[:=]\s*"
    rf"|(?<![\w-])--{_KEY}\s+)"
    r"(\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',;&]{4,})"
)
# "Bearer xyz" or "token xyz" in prose: only a value long enough to be a credential.
_BEARER = re.compile(r"(?i)(\b(?:bearer|token)\s+)([A-Za-z0-9._~+/=-]{16,})")
# AWS secret access keys: 40 base64 characters, found next to their name.
_AWS_SECRET = re.compile(r"(?i)(aws_secret_access_key[\"']?\s*[:=]\s*[\"']?)([A-Za-z0-9/+=]{40})")


def redact(text):
    """`text` with every secret it can recognise replaced by [REDACTED]."""
    if not text:
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(MARK, text)
    text = _AWS_SECRET.sub(lambda m: m.group(1) + MARK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MARK, text)
    return _PAIRS.sub(lambda m: m.group(0) if MARK in m.group(2) else m.group(1) + MARK, text)
