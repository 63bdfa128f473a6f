"""The git checkout `prmonitor` runs in: its origin's repository and its current branch, for
`start`, `stop` and `show` without --repo or a number."""

import re
import subprocess

# A GitHub remote names a host: git@github.com:owner/name.git (scp-like), or
# https://github.com/owner/name(.git) and ssh://git@host/owner/name. A local path or a file://
# URL names no GitHub repository.
_NAME = r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?"
SCP_REMOTE = re.compile(rf"[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:{_NAME}")
URL_REMOTE = re.compile(rf"(?:https?|ssh|git)://(?:[^@/]+@)?[A-Za-z0-9.-]+(?::\d+)?/{_NAME}")


class NotAGitHubCheckout(Exception):
    """What the checkout cannot tell; the message says what to pass instead."""


def origin_repo():
    """owner/name of the origin remote, or NotAGitHubCheckout."""
    url = git("remote", "get-url", "origin")
    if url is None:
        raise NotAGitHubCheckout("no --repo given and no origin remote here: add --repo owner/name")
    repo = github_repo(url)
    if repo is None:
        raise NotAGitHubCheckout("origin is not a GitHub remote; pass --repo owner/name")
    return repo


def github_repo(url):
    """owner/name of a GitHub remote URL, or None for anything else (a local path)."""
    match = SCP_REMOTE.fullmatch(url) or URL_REMOTE.fullmatch(url)
    return f"{match['owner']}/{match['name']}" if match else None


def current_branch():
    """The checked-out branch, or None (a detached HEAD, or not a checkout)."""
    return git("symbolic-ref", "--quiet", "--short", "HEAD")


def git(*args):
    """git's output, stripped, or None when git fails or is missing."""
    try:
        out = subprocess.run(("git", *args), capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()
