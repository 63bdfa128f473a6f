"""Sending when GitHub fails: a 5xx or a timeout is tried again later with backoff, a secondary
rate limit's Retry-After is honoured, and nothing is sent twice meanwhile."""

import time

from prmonitor.storage import db
from prmonitor.storage.models import EPOCH, NotifyOutbox, utcnow

from .world import REPO, drain, failing_run, outbox_rows, sent, sync, writes


def comments_path(pr):
    return rf"/repos/{REPO}/issues/{pr['number']}/comments$"


def test_a_5xx_is_retried_later_then_sent_once(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    sync(client, fake, diagnosis)
    fake.inject(comments_path(pr), status=502, method="POST")
    drain(notifier)
    assert fake.comments_on(REPO, pr["number"]) == []
    [row] = outbox_rows()
    assert row.pending_since is not None and row.due_at > utcnow() and "502" in row.error
    assert [n.action for n in sent("comment")] == ["failed"]
    assert [n.action for n in sent("check")] == ["created"]  # the other channel went on

    drain(notifier)  # not before its backoff
    assert fake.comments_on(REPO, pr["number"]) == []
    with db.database.connection_context():
        NotifyOutbox.update(due_at=EPOCH).execute()  # the backoff has passed
    drain(notifier)
    assert len(fake.comments_on(REPO, pr["number"])) == 1
    assert [m for m, _ in writes(fake, "checks")] == ["POST"]  # not sent again
    assert [r.pending_since for r in outbox_rows()] == [None]


def test_a_timeout_is_retried(client, fake, diagnosis, notifier, notify_github):
    notify_github.timeout = (1, 0.3)
    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    sync(client, fake, diagnosis)
    fake.inject(comments_path(pr), status=None, delay=1.0, method="POST")
    drain(notifier)
    [row] = outbox_rows()
    assert row.pending_since is not None and "Timeout" in row.error
    time.sleep(0.8)  # the slow answer lands on the fake: it did create a comment
    with db.database.connection_context():
        NotifyOutbox.update(due_at=EPOCH).execute()
    drain(notifier)
    # Whether or not the timed-out POST landed, there is one comment: it was found again.
    assert len(fake.comments_on(REPO, pr["number"])) == 1


def test_a_secondary_rate_limit_is_waited_out(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    sync(client, fake, diagnosis)
    fake.inject(comments_path(pr), status=403, retry_after=2, method="POST")
    drain(notifier)
    [row] = outbox_rows()
    assert row.pending_since is not None and row.attempts == 0  # a wait, not a failure
    assert 1 <= (row.due_at - utcnow()).total_seconds() <= 3
    calls = len(fake.calls)
    drain(notifier)
    assert len(fake.calls) == calls  # nothing goes out before Retry-After
    time.sleep(2.1)
    drain(notifier)
    assert len(fake.comments_on(REPO, pr["number"])) == 1
