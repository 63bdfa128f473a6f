"""The worker's queues: claiming due tasks, finishing them, retrying later. The diagnosis queue
(diagnosis_tasks), and the analyses (each row of `analyses` is its own task) share the shape:
state, attempts, due_at, claimed_by, claimed_until, error, finished_at, and a job_id.

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
    table: str = "diagnosis_tasks"


TABLES = ("diagnosis_tasks", "analyses")


def _known(table):
    if table not in TABLES:  # the name goes into SQL
        raise ValueError(f"not a task table: {table}")


def has_due(now=None, table="diagnosis_tasks"):
    """Whether a task is due now: the worker's cheap check every second."""
    _known(table)

    def render(param):
        return (
            f"SELECT 1 FROM {table} WHERE state = 'due' AND due_at <= "
            f"{param} AND (claimed_until IS NULL OR claimed_until < {param}) LIMIT 1"
        )

    now = now or utcnow()
    return execute(("has_due", table), render, [now, now]).fetchone() is not None


def claim(holder, limit=1, now=None, table="diagnosis_tasks"):
    """Claim up to `limit` due tasks for `holder`, oldest due first; returns them."""
    _known(table)
    now = now or utcnow()
    token = f"{holder}/{uuid.uuid4().hex[:12]}"
    skip_locked = " FOR UPDATE SKIP LOCKED" if db.is_postgres() else ""

    def render(param):
        return (
            f"UPDATE {table} SET claimed_by = {param}, claimed_until = {param}, "
            f"attempts = attempts + 1 WHERE id IN (SELECT id FROM {table} "
            f"WHERE state = 'due' AND due_at <= {param} AND (claimed_until IS NULL OR "
            f"claimed_until < {param}) ORDER BY due_at, id LIMIT {param}{skip_locked}) "
            "RETURNING id, job_id, attempts"
        )

    values = [token, now + CLAIM_FOR, now, now, limit]
    with db.writing():
        rows = execute(("claim", table, skip_locked), render, values).fetchall()
    return sorted((Task(*row, token, table) for row in rows), key=lambda task: task.id)


def finish(task, state="done", error=None, now=None):
    """The task is over: `done`, or `gave_up` (its log could not be read; `error` says why).
    Only this claim finishes it: False when the task was claimed again since (this claim
    expired), and the caller then writes nothing."""

    def render(param):
        return (
            f"UPDATE {task.table} SET state = {param}, error = {param}, finished_at = "
            f"{param}, claimed_by = NULL, claimed_until = NULL WHERE id = {param} "
            f"AND claimed_by = {param}"
        )

    values = [state, error and error[:500], now or utcnow(), task.id, task.claim]
    with db.writing():
        return execute(("task_end", task.table), render, values).rowcount == 1


def retry_later(task, delay, error, now=None, spend_attempt=True):
    """Give the task back, due again after `delay` seconds, with the reason it failed;
    without `spend_attempt` (a rate limit, not the log's fault) the claim is not counted."""
    now = now or utcnow()

    def render(param):
        return (
            f"UPDATE {task.table} SET due_at = {param}, claimed_by = NULL, "
            f"claimed_until = NULL, error = {param}, attempts = attempts - {param} "
            f"WHERE id = {param} AND claimed_by = {param}"
        )

    due = now + datetime.timedelta(seconds=delay)
    values = [due, error[:500], 0 if spend_attempt else 1, task.id, task.claim]
    with db.writing():
        execute(("task_retry", task.table), render, values)


def backlog(now=None):
    """(due now, waiting for a retry): /api/status shows the queue (index state, due_at)."""

    def render(param):
        return (
            f"SELECT COUNT(CASE WHEN due_at <= {param} THEN 1 END), COUNT(*) "
            "FROM diagnosis_tasks WHERE state = 'due'"
        )

    due, pending = execute("diagnosis_backlog", render, [now or utcnow()]).fetchone()
    return {"due": due, "retrying": pending - due}
