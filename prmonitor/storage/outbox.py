"""The notification outbox (notify_outbox): one row per pull request whose failure picture
changed, coalesced; what each channel last published for a PR (notify_channels); the log of
every notification sent (notifications).

A change marks the PR (mark_commit, mark_pr): `pending_since` the first change not yet sent,
`changed_at` the last, `settled` whether every run of its head had completed then. The worker
claims a PR once it is quiet (no change for the debounce, or settled, or pending too long),
renders its notifications from the state at that moment, and finishes the row only if no
change came meanwhile (`version`). On Postgres FOR UPDATE SKIP LOCKED lets several workers
claim at once, each other rows; a claim lasts `claimed_until`, so a dead worker's row comes back.
https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE
"""

import datetime
import json
import uuid
from dataclasses import dataclass

from prmonitor.storage import db
from prmonitor.storage.models import Notification, NotifyChannel, NotifyOutbox, iso, utcnow
from prmonitor.storage.sql import execute, read_time

CLAIM_FOR = datetime.timedelta(minutes=5)
REQUEST = "request"  # a content-creating request to GitHub about to go out (pace.py)


@dataclass(frozen=True)
class Due:
    """A claimed outbox row."""

    id: int
    pr_id: int
    version: int
    attempts: int  # this claim included
    pending_since: datetime.datetime
    claim: str


# -- marking ----------------------------------------------------------------------------------

_UPSERT = (
    " ON CONFLICT (pr_id) DO UPDATE SET "
    "pending_since = COALESCE(notify_outbox.pending_since, EXCLUDED.pending_since), "
    "changed_at = EXCLUDED.changed_at, settled = EXCLUDED.settled, "
    "version = notify_outbox.version + 1"
)


def _head_settled(alias):
    """SQL: the PR's head (prs `alias`) has runs, and none is still queued or running."""
    head = f"w.repo_full_name = {alias}.repo_full_name AND w.head_sha = {alias}.head_sha"
    return (
        f"(EXISTS (SELECT 1 FROM workflows w WHERE {head}) AND NOT EXISTS (SELECT 1 FROM "
        f"workflows w WHERE {head} AND COALESCE(w.status, '') <> 'completed'))"
    )


def mark_commit(repo_full_name, head_sha, now=None):
    """Every PR whose head is `head_sha` changed: a run of it completed. Deferred: it goes
    with the run's own write."""

    def render(param):
        return (
            "INSERT INTO notify_outbox (pr_id, pending_since, changed_at, settled, version, "
            f"attempts) SELECT p.id, {param}, {param}, {_head_settled('p')}, 1, 0 FROM pr_heads "
            f"h JOIN prs p ON p.id = h.pr_id WHERE h.repo_full_name = {param} AND h.head_sha = "
            f"{param} AND p.head_sha = h.head_sha" + _UPSERT
        )

    now = now or utcnow()
    execute("notify_mark_commit", render, [now, now, repo_full_name, head_sha], deferred=True)


def mark_pr(pr_id, now=None):
    """PR `pr_id` changed: a failure diagnosed or classified anew, a draft made ready."""

    def render(param):
        return (
            "INSERT INTO notify_outbox (pr_id, pending_since, changed_at, settled, version, "
            f"attempts) SELECT p.id, {param}, {param}, {_head_settled('p')}, 1, 0 FROM prs p "
            f"WHERE p.id = {param}" + _UPSERT
        )

    now = now or utcnow()
    execute("notify_mark_pr", render, [now, now, pr_id])


# -- the worker's side ------------------------------------------------------------------------


def _quiet(param):
    """The claimable rows: pending, not held for a retry, not claimed, and quiet."""
    p = param
    return (
        f"pending_since IS NOT NULL AND (due_at IS NULL OR due_at <= {p}) AND (claimed_until "
        f"IS NULL OR claimed_until < {p}) AND (settled OR changed_at <= {p} OR "
        f"pending_since <= {p})"
    )


def has_due(quiet_since, pending_before, now=None):
    """Whether a row may be claimed: the worker's cheap check every second. A row is quiet when
    settled, unchanged since `quiet_since`, or pending since before `pending_before`."""
    now = now or utcnow()

    def render(param):
        return f"SELECT 1 FROM notify_outbox WHERE {_quiet(param)} LIMIT 1"

    values = [now, now, quiet_since, pending_before]
    return execute("notify_has_due", render, values).fetchone() is not None


def claim(holder, quiet_since, pending_before, limit=1, now=None):
    """Claim up to `limit` quiet rows for `holder`, the longest pending first."""
    now = now or utcnow()
    token = f"{holder}/{uuid.uuid4().hex[:12]}"
    skip_locked = " FOR UPDATE SKIP LOCKED" if db.is_postgres() else ""

    def render(param):
        return (
            f"UPDATE notify_outbox SET claimed_by = {param}, claimed_until = {param}, "
            "attempts = attempts + 1 WHERE id IN (SELECT id FROM notify_outbox WHERE "
            f"{_quiet(param)} ORDER BY pending_since, id LIMIT {param}{skip_locked}) "
            "RETURNING id, pr_id, version, attempts, pending_since"
        )

    values = [token, now + CLAIM_FOR, now, now, quiet_since, pending_before, limit]
    with db.writing():
        rows = execute(("notify_claim", skip_locked), render, values).fetchall()
    return sorted((Due(*row[:4], read_time(row[4]), token) for row in rows), key=lambda d: d.id)


def finish(due, now=None, error=None):
    """The PR's notifications are sent (or given up: `error` says why): nothing pending
    unless it changed since the claim (its version moved), and then it stays pending for the
    next claim. False when the claim was lost (it expired and another worker has the row)."""

    def render(param):
        return (
            f"UPDATE notify_outbox SET pending_since = CASE WHEN version = {param} THEN NULL "
            "ELSE pending_since END, claimed_by = NULL, claimed_until = NULL, due_at = NULL, "
            f"attempts = 0, error = {param}, sent_at = {param} WHERE id = {param} AND "
            f"claimed_by = {param}"
        )

    values = [due.version, error, now or utcnow(), due.id, due.claim]
    with db.writing():
        return execute("notify_finish", render, values).rowcount == 1


def hold(due, now=None):
    """Extend the claim before a channel sends; False when it was lost (it expired and
    another worker claimed the row), and then this worker must send nothing more."""

    def render(param):
        return (
            f"UPDATE notify_outbox SET claimed_until = {param} WHERE id = {param} AND "
            f"claimed_by = {param}"
        )

    values = [(now or utcnow()) + CLAIM_FOR, due.id, due.claim]
    with db.writing():
        return execute("notify_hold", render, values).rowcount == 1


def retry_later(due, delay, error, now=None, spend_attempt=True):
    """Give the row back, not before `delay` seconds, with the reason; a wait that is nobody's
    failure (diagnoses still running, a rate limit) does not count as an attempt."""
    now = now or utcnow()

    def render(param):
        return (
            f"UPDATE notify_outbox SET due_at = {param}, claimed_by = NULL, claimed_until = NULL, "
            f"error = {param}, attempts = attempts - {param} WHERE id = {param} "
            f"AND claimed_by = {param}"
        )

    due_at = now + datetime.timedelta(seconds=max(1, round(delay)))
    values = [due_at, error and error[:500], 0 if spend_attempt else 1, due.id, due.claim]
    with db.writing():
        execute("notify_retry", render, values)


def depth():
    """/api/status: how many PRs have notifications pending, and since when the oldest."""
    rows = NotifyOutbox.select().where(NotifyOutbox.pending_since.is_null(False))
    oldest = rows.order_by(NotifyOutbox.pending_since).first()
    since = oldest.pending_since if oldest else None
    return {"pending": rows.count(), "oldest_pending_since": iso(since)}


def pending(pr_id):
    """The PR's outbox row as the API shows it: pending since, held until, the last error."""
    row = NotifyOutbox.get_or_none(NotifyOutbox.pr_id == pr_id)
    if row is None or row.pending_since is None:
        return None
    return {
        "since": iso(row.pending_since),
        "not_before": iso(row.due_at),
        "attempts": row.attempts,
        "error": row.error,
    }


# -- channels' state and the log --------------------------------------------------------------


@dataclass
class ChannelState:
    """What a channel last published for a PR; memo is the channel's own (a dict)."""

    head_sha: str | None = None
    remote_id: int | None = None
    body_hash: str | None = None
    memo: dict | None = None


def channel_state(pr_id, channel):
    """The channel's state for the PR (empty when it never published)."""
    row = NotifyChannel.get_or_none(pr_id=pr_id, channel=channel)
    if row is None:
        return ChannelState()
    memo = json.loads(row.memo) if row.memo else None
    return ChannelState(row.head_sha, row.remote_id, row.body_hash, memo)


def save(pr_id, channel, state, entry=None, now=None):
    """Store the channel's new state, and `entry` (a dict of notifications columns) in the log,
    in one transaction."""
    now = now or utcnow()
    values = {
        "head_sha": state.head_sha,
        "remote_id": state.remote_id,
        "body_hash": state.body_hash,
        "memo": json.dumps(state.memo, sort_keys=True) if state.memo is not None else None,
        "updated_at": now,
    }
    with db.writing():
        NotifyChannel.insert(pr_id=pr_id, channel=channel, **values).on_conflict(
            conflict_target=[NotifyChannel.pr_id, NotifyChannel.channel],
            update=values,
        ).execute()
        if entry is not None:
            record(pr_id, channel, entry, now)


def record(pr_id, channel, entry, now=None):
    """One line of the notifications log."""
    error = entry.get("error")
    Notification.insert(
        pr_id=pr_id,
        channel=channel,
        sent_at=now or utcnow(),
        **{**entry, "error": error and error[:500]},
    ).execute()


def reserve_request(pr_id, installation_id, now=None):
    """Note a content-creating request about to go out (whatever its answer will be), so that
    every worker counts it: GitHub's secondary limits count requests per installation."""
    entry = {"action": REQUEST, "installation_id": installation_id}
    with db.writing():
        record(pr_id, "github", entry, now)


def content_requests(installation_id, since):
    """How many content-creating requests went out for the installation since `since`."""
    return (
        Notification.select()
        .where(
            Notification.installation_id == installation_id,
            Notification.sent_at >= since,
            Notification.action == REQUEST,
        )
        .count()
    )


def sent_for(pr_id, limit=100):
    """The PR's notifications (sent, unchanged or failed), newest first."""
    return list(
        Notification.select()
        .where(Notification.pr_id == pr_id, Notification.action != REQUEST)
        .order_by(Notification.sent_at.desc(), Notification.id.desc())
        .limit(limit)
    )
