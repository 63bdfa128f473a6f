"""Sending when GitHub fails: a 5xx or a timeout is tried again later with backoff, a secondary
rate limit's Retry-After is honoured, and nothing is sent twice meanwhile."""

import time

import pytest

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


def test_backoff_grows_and_the_row_is_given_up_in_the_end(client, fake, diagnosis, notifier):
    from prmonitor.notify.sender import MAX_ATTEMPTS, RETRY_DELAYS

    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    sync(client, fake, diagnosis)
    fake.inject(comments_path(pr), status=500, method="POST", times=100)
    waits = []
    for _ in range(MAX_ATTEMPTS + 1):
        drain(notifier)
        [row] = outbox_rows()
        if row.pending_since is None:
            break
        waits.append(round((row.due_at - utcnow()).total_seconds()))
        with db.database.connection_context():
            NotifyOutbox.update(due_at=EPOCH).execute()
    assert [min(w, 1800) for w in waits[:3]] == [pytest.approx(d, abs=1) for d in RETRY_DELAYS[:3]]
    [row] = outbox_rows()
    assert row.pending_since is None and "given up" in row.error
    assert fake.comments_on(REPO, pr["number"]) == []
    failed = [n for n in sent("comment") if n.action == "failed"]
    assert len(failed) == MAX_ATTEMPTS and all("500" in n.error for n in failed)


def test_content_requests_are_paced_per_installation(client, fake, diagnosis, notify_github):
    from prmonitor.notify.channels import Comment
    from prmonitor.notify.pace import Pace
    from prmonitor.notify.sender import Notifier

    notifier = Notifier([Comment(notify_github, Pace(per_minute=3, spacing=0))])
    prs = [fake.open_pr(REPO) for _ in range(5)]
    for pr in prs:
        failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)
    assert sum(len(fake.comments_on(REPO, pr["number"])) for pr in prs) == 3
    held = [row for row in outbox_rows() if row.pending_since is not None]
    assert len(held) == 2
    assert all(row.attempts == 0 and "in the last minute" in row.error for row in held)
    assert all(55 <= (row.due_at - utcnow()).total_seconds() <= 61 for row in held)
