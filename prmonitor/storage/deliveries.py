"""The deliveries table: claiming a delivery id once, and remembering one that failed.

A redelivery keeps its X-GitHub-Delivery id, so the id is the dedupe key; one that failed may be
handled again (https://docs.github.com/en/webhooks/using-webhooks/handling-webhook-deliveries).
"""

import datetime
from contextlib import contextmanager

from peewee import DataError

from prmonitor.storage import db
from prmonitor.storage.models import Delivery, utcnow
from prmonitor.storage.sql import execute, upsert_sql

# Outcomes after which a delivery may be claimed again, when GitHub redelivers it.
RETRYABLE_OUTCOMES = ("failed", "invalid")


class AlreadyProcessed(Exception):
    """The delivery id was claimed before, with an outcome that is final."""


def claim(delivery_id, event, action, outcome):
    """Record a delivery and its outcome; False when it was already handled."""
    values = [delivery_id, event, action, outcome, utcnow(), 1]
    return execute("claim_delivery", _claim_sql, values).rowcount > 0


def claim_with_next_statement(delivery_id, event, action, outcome):
    """claim() on Postgres without a round trip of its own: the statement is deferred to travel
    with the transaction's first write, so nobody reads its answer in time to stop that write.
    Instead it fails when it claims nothing: it divides by the number of rows it claimed, and
    a duplicate's zero raises division_by_zero, which rolls the whole transaction back before
    any of its writes ran. Run it inside refusing_duplicates(), which turns that one failure
    into AlreadyProcessed. (A function raising its own error would need a stored procedure.)"""

    def render(param):
        return (
            f"WITH claimed AS ({_claim_sql(param)} RETURNING 1) "
            "SELECT 1 / (SELECT count(*) FROM claimed)"
        )

    values = [delivery_id, event, action, outcome, utcnow(), 1]
    execute("claim_or_fail", render, values, deferred=True)


@contextmanager
def refusing_duplicates():
    """Raise AlreadyProcessed where claim_with_next_statement found the delivery handled."""
    try:
        yield
    except DataError as exc:
        if _claimed_nothing(exc):
            raise AlreadyProcessed() from None
        raise


def _claimed_nothing(exc):
    """Whether a DataError is the claim's division by zero: no other statement divides."""
    return db.pgcode(exc) == "22012"  # division_by_zero


def commit_without_waiting_for_disk():
    """This transaction's COMMIT returns before Postgres has flushed its WAL to disk.

    On this machine the flush takes a millisecond of every delivery, two thirds of the time
    the receiver waits: 838 deliveries/s with it, 1,150 without. Everything stays atomic and
    visible to every reader before the 2xx; what a crash of the Postgres server itself can
    lose is the last few hundred milliseconds of deliveries, which GitHub will not send again
    but the reconciliation poller restores from GitHub's API. So it is used only while a poller
    that can do so runs (receiver.poller_restores).
    https://www.postgresql.org/docs/current/wal-async-commit.html
    """
    db.defer("SET LOCAL synchronous_commit = off", [])


def _claim_sql(param):
    retryable = ", ".join(f"'{name}'" for name in RETRYABLE_OUTCOMES)
    return upsert_sql(
        "deliveries",
        ("delivery_id", "event", "action", "outcome", "received_at", "attempts"),
        "delivery_id",
        [
            "outcome = EXCLUDED.outcome",
            "error = NULL",
            "received_at = EXCLUDED.received_at",
            "attempts = deliveries.attempts + 1",
        ],
        f"deliveries.outcome IN ({retryable})",
    )(param)


def record_failure(delivery_id, event, action, outcome, error):
    """Outside the rolled-back transaction: remember that this delivery failed, and why."""
    Delivery.insert(
        delivery_id=delivery_id, event=event, action=action, outcome=outcome, error=error
    ).on_conflict(
        conflict_target=[Delivery.delivery_id],
        update={Delivery.outcome: outcome, Delivery.error: error},
        where=Delivery.outcome.not_in(("processed", "ignored")),
    ).execute()


def prune(retention_days, batch=1000, most=20):
    """Delete deliveries received more than `retention_days` ago, `batch` rows per
    transaction (a writer never holds the lock long) and at most `most` batches a call;
    returns how many. The dedupe needs a delivery id only while GitHub may still redeliver it
    (three days: https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks)."""
    cutoff = utcnow() - datetime.timedelta(days=retention_days)
    deleted = 0
    for _ in range(most):
        old = Delivery.select(Delivery.id).where(Delivery.received_at < cutoff).limit(batch)
        with db.writing():
            count = Delivery.delete().where(Delivery.id.in_(old)).execute()
        deleted += count
        if count < batch:
            break
    return deleted
