"""The diagnosis queue (diagnosis_tasks): claiming due tasks, finishing them, retrying later.

A task is enqueued with its failed job's row (upserts.enqueue_diagnosis). Workers claim due
tasks for a while (`claimed_until`): a worker that dies mid-task leaves its claim to expire, and
another takes the task again. On Postgres, FOR UPDATE SKIP LOCKED lets several workers claim
at once, each different tasks; on SQLite a claim is one write transaction, so claimants queue.
https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE
"""

import datetime
import uuid
from dataclasses import dataclass

from prmonitor.storage import db
from prmonitor.storage.models import utcnow
from prmonitor.storage.sql import execute

CLAIM_FOR = datetime.timedelta(minutes=5)  # far longer than a log's download takes


@dataclass(frozen=True)
class Task:
    id: int
    job_id: int
    attempts: int  # this claim included
    claim: str  # this claim's own token: a later claim of the task has another


def has_due(now=None):
    """Whether a task is due now: the worker's cheap check every second."""

    def render(param):
        return (
            "SELECT 1 FROM diagnosis_tasks WHERE state = 'due' AND due_at <= "
            f"{param} AND (claimed_until IS NULL OR claimed_until < {param}) LIMIT 1"
        )

    now = now or utcnow()
    return execute("diagnosis_has_due", render, [now, now]).fetchone() is not None


def claim(holder, limit=1, now=None):
    """Claim up to `limit` due tasks for `holder`, oldest due first; returns them."""
    now = now or utcnow()
    token = f"{holder}/{uuid.uuid4().hex[:12]}"
    skip_locked = " FOR UPDATE SKIP LOCKED" if db.is_postgres() else ""

    def render(param):
        return (
            f"UPDATE diagnosis_tasks SET claimed_by = {param}, claimed_until = {param}, "
            "attempts = attempts + 1 WHERE id IN (SELECT id FROM diagnosis_tasks "
            f"WHERE state = 'due' AND due_at <= {param} AND (claimed_until IS NULL OR "
            f"claimed_until < {param}) ORDER BY due_at, id LIMIT {param}{skip_locked}) "
            "RETURNING id, job_id, attempts"
        )

    values = [token, now + CLAIM_FOR, now, now, limit]
    with db.writing():
        rows = execute(("diagnosis_claim", skip_locked), render, values).fetchall()
    return sorted((Task(*row, token) for row in rows), key=lambda task: task.id)


def finish(task, state="done", error=None, now=None):
    """The task is over: `done`, or `gave_up` (its log could not be read; `error` says why).
    Only this claim finishes it: False when the task was claimed again since (this claim
    expired), and the caller then writes nothing."""

    def render(param):
        return (
            f"UPDATE diagnosis_tasks SET state = {param}, error = {param}, finished_at = "
            f"{param}, claimed_by = NULL, claimed_until = NULL WHERE id = {param} "
            f"AND claimed_by = {param}"
        )

    values = [state, error and error[:500], now or utcnow(), task.id, task.claim]
    with db.writing():
        return execute("diagnosis_end", render, values).rowcount == 1


def retry_later(task, delay, error, now=None, spend_attempt=True):
    """Give the task back, due again after `delay` seconds, with the reason it failed;
    without `spend_attempt` (a rate limit, not the log's fault) the claim is not counted."""
    now = now or utcnow()

    def render(param):
        return (
            f"UPDATE diagnosis_tasks SET due_at = {param}, claimed_by = NULL, "
            f"claimed_until = NULL, error = {param}, attempts = attempts - {param} "
            f"WHERE id = {param} AND claimed_by = {param}"
        )

    due = now + datetime.timedelta(seconds=delay)
    values = [due, error[:500], 0 if spend_attempt else 1, task.id, task.claim]
    with db.writing():
        execute("diagnosis_retry", render, values)


def backlog(now=None):
    """(due now, waiting for a retry): /api/status shows the queue (index state, due_at)."""

    def render(param):
        return (
            f"SELECT COUNT(CASE WHEN due_at <= {param} THEN 1 END), COUNT(*) "
            "FROM diagnosis_tasks WHERE state = 'due'"
        )

    due, pending = execute("diagnosis_backlog", render, [now or utcnow()]).fetchone()
    return {"due": due, "retrying": pending - due}
