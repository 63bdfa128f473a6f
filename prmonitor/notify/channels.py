"""The channels: the sticky PR comment, the neutral check run, Slack, the log line.

`send(picture, state)` publishes the picture when it differs from what the channel last
published (`state`, storage.outbox.ChannelState) and returns (the new state, the log entry),
or None when there is nothing to send. It raises Retry when a later try may succeed (5xx,
timeouts, rate limits) and Failed when it will not (a 4xx other than those).
"""

import json
import logging
import time

import requests

from prmonitor.github import GitHubError, NotFound, RateLimited, Unavailable
from prmonitor.notify import messages
from prmonitor.storage.outbox import ChannelState

log = logging.getLogger(__name__)

CHECK_NAME = "prmonitor"
FORBIDDEN_FOR = 3600.0  # a 403 (permission not granted) skips the channel this long
SLACK_TIMEOUT = 10
ANNOUNCED_KEPT = 200


class Retry(Exception):
    """Try again after `delay` seconds; `spend_attempt` False when nobody failed."""

    def __init__(self, reason, delay=None, spend_attempt=True):
        super().__init__(reason)
        self.delay, self.spend_attempt = delay, spend_attempt


class Failed(Exception):
    """The channel cannot send this (another try would fail the same way)."""


def github_call(call):
    """Run a GitHub call, turning its errors into Retry or Failed."""
    try:
        return call()
    except RateLimited as exc:
        raise Retry(str(exc), max(1, exc.reset_at - time.time()), spend_attempt=False) from None
    except Unavailable as exc:
        raise Retry(str(exc)) from None
    except GitHubError as exc:
        if exc.status is None or exc.status >= 500:
            raise Retry(str(exc)) from None
        raise


def entry(action, picture, body_hash=None, remote_id=None, error=None):
    """A line of the notifications log."""
    return {
        "action": action,
        "installation_id": picture.installation_id,
        "head_sha": picture.head_sha,
        "body_hash": body_hash,
        "remote_id": remote_id,
        "headline": messages.headline(picture),
        "error": error,
    }


class Comment:
    """One comment per PR, found by its marker and the App's own login (other bots copy
    markers), created on the PR's first failure and edited only when its body changed.
    https://docs.github.com/en/rest/issues/comments"""

    name = "comment"

    def __init__(self, github, pace):
        self.github, self.pace = github, pace
        self._login = None

    def send(self, picture, state):
        if not picture.ever_red and state.remote_id is None:
            return None  # a PR that was never red gets no comment
        body = messages.comment(picture)
        body_hash = messages.digest(body)
        if state.remote_id and state.body_hash == body_hash:
            return None
        comment_id = state.remote_id
        if comment_id is not None and not self._edit(picture, comment_id, body):
            comment_id = None  # deleted by someone: find ours again, or write a new one
        if comment_id is None:
            comment_id, action = self._find_and_write(picture, body)
        else:
            action = "edited"
        new = ChannelState(picture.head_sha, comment_id, body_hash)
        return new, entry(action, picture, body_hash, comment_id)

    def _find_and_write(self, picture, body):
        found = self.find(picture)
        if found is not None and found.get("body") == body:
            return found["id"], "unchanged"  # sent before a crash lost its row
        if found is not None and self._edit(picture, found["id"], body):
            return found["id"], "edited"
        self.pace.wait(picture)
        path = f"repos/{picture.repo}/issues/{picture.number}/comments"
        answer = github_call(
            lambda: self.github.post(path, {"body": body}, picture.installation_id)
        )
        return answer["id"], "created"

    def _edit(self, picture, comment_id, body):
        """PATCH the comment; False when it is gone."""
        self.pace.wait(picture)
        path = f"repos/{picture.repo}/issues/comments/{comment_id}"
        try:
            github_call(lambda: self.github.patch(path, {"body": body}, picture.installation_id))
        except NotFound:
            return False
        return True

    def find(self, picture):
        """The oldest comment on the PR with the marker, written by this App (or token)."""
        login = self.login().lower()
        path = f"repos/{picture.repo}/issues/{picture.number}/comments"
        pages = github_call(
            lambda: self.github.get_pages(
                path, {"per_page": 100}, picture.installation_id, limit=10
            )
        )
        for page in pages:
            for item in page.body if isinstance(page.body, list) else []:
                author = ((item.get("user") or {}).get("login") or "").lower()
                if author == login and messages.MARKER in (item.get("body") or ""):
                    return item
        return None

    def login(self):
        """Who writes the comments: `<slug>[bot]` for the App (GET /app), the token's user
        otherwise (GET /user). https://docs.github.com/en/rest/apps/apps#get-the-authenticated-app"""
        if self._login is None:
            if self.github.is_app:
                answer = github_call(lambda: self.github.get("app", as_app=True))
                self._login = f"{answer.body['slug']}[bot]"
            else:
                self._login = github_call(lambda: self.github.get("user")).body["login"]
        return self._login


class Check:
    """A check run named prmonitor on the PR's head, concluded `neutral` so it never blocks a
    merge: created once per head SHA, then patched. It needs `checks: write`; an installation
    that has not granted it answers 403, said once, and the channel skips it for a while.
    https://docs.github.com/en/rest/checks/runs"""

    name = "check"

    def __init__(self, github, pace):
        self.github, self.pace = github, pace
        self._forbidden = {}  # installation id -> until (epoch)

    def send(self, picture, state):
        if picture.runs == 0 or self._forbidden.get(picture.installation_id, 0) > time.time():
            return None
        output = messages.check_output(picture)
        body_hash = messages.digest(json.dumps(output, sort_keys=True))
        same_head = state.head_sha == picture.head_sha and state.remote_id is not None
        if same_head and state.body_hash == body_hash:
            return None
        body = {"status": "completed", "conclusion": "neutral", "output": output}
        try:
            check_id = state.remote_id if same_head else self.find(picture)
            check_id, action = self._write(picture, check_id, body)
        except GitHubError as exc:
            if exc.status != 403:
                raise
            self._forbid(picture.installation_id, exc)
            return None
        return ChannelState(picture.head_sha, check_id, body_hash), entry(
            action, picture, body_hash, check_id
        )

    def _write(self, picture, check_id, body):
        self.pace.wait(picture)
        installation = picture.installation_id
        if check_id is not None:
            path = f"repos/{picture.repo}/check-runs/{check_id}"
            github_call(lambda: self.github.patch(path, body, installation))
            return check_id, "edited"
        body = {"name": CHECK_NAME, "head_sha": picture.head_sha, **body}
        path = f"repos/{picture.repo}/check-runs"
        answer = github_call(lambda: self.github.post(path, body, installation))
        return answer["id"], "created"

    def find(self, picture):
        """This App's check run on the head, if one was created before a crash lost its row.
        https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference"""
        path = f"repos/{picture.repo}/commits/{picture.head_sha}/check-runs"
        params = {"check_name": CHECK_NAME, "filter": "latest"}
        if self.github.app_id:
            params["app_id"] = self.github.app_id
        try:
            page = github_call(lambda: self.github.get(path, params, picture.installation_id))
        except NotFound:
            return None
        runs = page.body.get("check_runs", []) if isinstance(page.body, dict) else []
        return runs[0]["id"] if runs else None

    def _forbid(self, installation, exc):
        if installation not in self._forbidden:
            log.warning(
                "installation=%s check run refused (%s): accept the App's new `checks: write` "
                "permission to get prmonitor's check run; skipping it meanwhile",
                installation,
                exc,
            )
        self._forbidden[installation] = time.time() + FORBIDDEN_FOR


class Slack:
    """A Block Kit message to the incoming webhook per batch of failures not yet announced,
    and one follow-up when a red PR turns green. https://api.slack.com/messaging/webhooks"""

    name = "slack"

    def __init__(self, url, session=None):
        self.url = url
        self.session = session or requests.Session()

    def send(self, picture, state):
        memo = state.memo or {"announced": [], "red": False}
        announced = set(memo["announced"])
        fresh = [f for f in picture.failures if f.key not in announced]
        if fresh:
            payload, action = messages.slack_failures(picture, fresh), "posted"
            memo = {"announced": (memo["announced"] + [f.key for f in fresh])[-ANNOUNCED_KEPT:]}
            memo["red"] = True
        elif picture.green and memo.get("red"):
            payload, action = messages.slack_green(picture), "posted_green"
            memo = {**memo, "red": False}
        else:
            return None
        self._post(payload)
        body_hash = messages.digest(json.dumps(payload, sort_keys=True))
        return ChannelState(picture.head_sha, None, body_hash, memo), entry(
            action, picture, body_hash
        )

    def _post(self, payload):
        try:
            response = self.session.post(self.url, json=payload, timeout=SLACK_TIMEOUT)
        except requests.RequestException as exc:
            raise Retry(f"slack: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            # https://api.slack.com/apis/rate-limits: 429 with Retry-After, nobody's failure.
            wait = response.headers.get("Retry-After", "")
            delay = int(wait) if wait.isascii() and wait.isdigit() else None
            limited = response.status_code == 429
            raise Retry(f"slack: {response.status_code}", delay, spend_attempt=not limited)
        if response.status_code >= 400:
            raise Failed(f"slack: {response.status_code} {response.text[:100]}")


class Log:
    """One key=value line per notification (the default without App credentials)."""

    name = "log"

    def send(self, picture, state):
        if not picture.ever_red and state.body_hash is None:
            return None
        line = messages.log_line(picture)
        body_hash = messages.digest(line)
        if state.body_hash == body_hash:
            return None
        log.info("notify %s", line)
        return ChannelState(picture.head_sha, None, body_hash), entry("logged", picture, body_hash)
