"""Sending a claimed PR's notifications: its picture rendered now, each channel in turn, each
channel's result committed as soon as it is known, and the row finished or given back.

Exactly once: a channel publishes only what differs from what it recorded (the body's hash),
and what it published is found again when the record was lost (the comment by its marker and
author, the check run by its name on the head), so a crash between GitHub's answer and the
commit edits, never duplicates. Two workers never hold one row (storage.outbox.claim).
"""

import datetime
import logging

from peewee import DatabaseError, InterfaceError

from prmonitor import metrics
from prmonitor.github import GitHubError
from prmonitor.notify import picture as pictures
from prmonitor.notify.channels import Check, Comment, Failed, Log, Retry, Slack, entry
from prmonitor.notify.pace import Pace
from prmonitor.storage import db, outbox
from prmonitor.storage.models import utcnow

log = logging.getLogger(__name__)

RETRY_DELAYS = (5, 15, 60, 300, 900, 1800)  # seconds, by attempt
MAX_ATTEMPTS = len(RETRY_DELAYS) + 2
HOLD_FOR_DIAGNOSIS = datetime.timedelta(minutes=2)  # a send waits this long at most for logs
HOLD_RETRY = 5  # seconds between looks while diagnoses are still running


class Notifier:
    """Sends due notifications on `channels` (objects with `name` and `send`)."""

    def __init__(self, channels, debounce=30.0, drafts=False, holder="notifier"):
        self.channels = list(channels)
        self.debounce = datetime.timedelta(seconds=debounce)
        self.drafts, self.holder = drafts, holder

    @classmethod
    def from_config(cls, config, github, holder="notifier"):
        """The channels NOTIFY names, over `github` (None without credentials)."""
        pace = Pace()
        made = {
            "comment": lambda: Comment(github, pace),
            "check": lambda: Check(github, pace),
            "slack": lambda: Slack(config.slack_webhook_url),
            "log": Log,
        }
        needs_github = ("comment", "check")
        names = [n for n in config.notify if github is not None or n not in needs_github]
        channels = [made[name]() for name in names]
        return cls(channels, config.notify_debounce, config.notify_drafts, holder)

    # -- the queue --------------------------------------------------------------------------

    def windows(self, now=None, flush=False):
        """(quiet since, pending before) for a claim at `now`: `flush` claims every pending row."""
        now = now or utcnow()
        if flush:
            return now, now
        return now - self.debounce, now - 10 * self.debounce

    def run_due(self, limit=1, now=None, flush=False):
        """Claim up to `limit` quiet rows and send each; how many were claimed."""
        quiet, pending = self.windows(now, flush)
        if not outbox.has_due(quiet, pending, now):
            return 0
        claimed = outbox.claim(self.holder, quiet, pending, limit, now)
        for due in claimed:
            self.send(due, now, flush)
        return len(claimed)

    def drain(self, now=None):
        """Send everything pending (`prmonitor poll --once`), waiting for nothing."""
        while self.run_due(now=now, flush=True):
            pass

    # -- one PR -------------------------------------------------------------------------------

    def send(self, due, now=None, flush=False):
        """Send the PR's notifications; returns `sent`, `held`, `retry`, `skipped`."""
        now = now or utcnow()
        picture = pictures.load(due.pr_id)
        if picture is None or (picture.draft and not self.drafts):
            outbox.finish(due, now)
            return "skipped"
        if due.attempts > MAX_ATTEMPTS:
            log.warning("pr=%s notifications given up after %d tries", due.pr_id, MAX_ATTEMPTS)
            outbox.finish(due, now, error=f"given up after {MAX_ATTEMPTS} tries")
            return "gave_up"
        if picture.undiagnosed and not flush and due.pending_since > now - HOLD_FOR_DIAGNOSIS:
            # The failures' lines and classes are coming: one message with them, not several.
            outbox.retry_later(due, HOLD_RETRY, "waiting for diagnoses", now, spend_attempt=False)
            return "held"
        retries = []
        for channel in self.channels:
            if not outbox.hold(due):
                # The claim expired and another worker has the row: it sends from here.
                log.warning("pr=%s notifications: claim lost, stopping", due.pr_id)
                return "lost"
            retries += [r for r in [self._send_one(channel, picture)] if r]
        if retries:
            backoff = RETRY_DELAYS[min(due.attempts, len(RETRY_DELAYS)) - 1]
            delay = min(r.delay or backoff for r in retries)
            spend = any(r.spend_attempt for r in retries)
            outbox.retry_later(due, delay, "; ".join(map(str, retries)), now, spend_attempt=spend)
            return "retry"
        outbox.finish(due, now)
        return "sent"

    def _send_one(self, channel, picture):
        """One channel; the Retry it raised, else None (its result committed). A channel's
        own bug is retried like a 5xx (and given up with the row): the others still go."""
        state = outbox.channel_state(picture.pr_id, channel.name)
        try:
            result = channel.send(picture, state)
        except Retry as exc:
            metrics.notified(channel.name, "retry")
            log.info("pr=%s channel=%s retry: %s", picture.pr_id, channel.name, exc)
            self._failed(channel, picture, f"retry: {exc}")
            return exc
        except (Failed, GitHubError) as exc:
            metrics.notified(channel.name, "failed")
            log.warning("pr=%s channel=%s failed: %s", picture.pr_id, channel.name, exc)
            self._failed(channel, picture, str(exc))
            return None
        except (DatabaseError, InterfaceError):
            raise
        except Exception as exc:
            log.exception("pr=%s channel=%s raised", picture.pr_id, channel.name)
            self._failed(channel, picture, repr(exc))
            return Retry(repr(exc))
        if result is not None:
            new_state, line = result
            outbox.save(picture.pr_id, channel.name, new_state, line)
            metrics.notified(channel.name, line["action"])
            log.info(
                "notify pr=%s/%s#%s channel=%s action=%s id=%s",
                picture.pr_id,
                picture.repo,
                picture.number,
                channel.name,
                line["action"],
                line["remote_id"],
            )
        return None

    def _failed(self, channel, picture, error):
        with db.writing():
            outbox.record(picture.pr_id, channel.name, entry("failed", picture, error=error))
