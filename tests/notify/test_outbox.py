"""The outbox: one pending row per PR, coalesced; sent once it is quiet (the debounce after the
last change, or at once when every run of the head completed), held while the failures' logs
are being read, and never sent twice: duplicate deliveries, webhook plus poll, two workers."""

import datetime
import threading

from prmonitor.notify.channels import Check, Comment
from prmonitor.notify.pace import Pace
from prmonitor.notify.sender import Notifier
from prmonitor.storage import db

from ..fakes import app_client
from ..helpers import signed_post
from ..poll.world import deliver_events, job_ids, make_poller
from .world import REPO, drain, failing_run, outbox_rows, sync, writes


def run_due(notifier, seconds):
    """One look at the outbox, `seconds` from now."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)
    with db.database.connection_context():
        return notifier.run_due(now=now + datetime.timedelta(seconds=seconds))


def test_forty_failing_jobs_give_one_create_and_few_edits(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    names = tuple(f"shard {i}" for i in range(40))
    run = fake.add_run(REPO, pr["head"]["sha"], jobs=names)
    ids = job_ids(fake, run["id"])
    for job_id in ids:
        fake.start_job(job_id)
    sync(client, fake, diagnosis)
    for batch in range(4):  # the jobs fail ten at a time while the run goes on
        for job_id in ids[batch * 10 : batch * 10 + 10]:
            fake.finish_job(job_id, "failure")
            fake.set_log(job_id, f"##[error]shard {job_id} failed: assertion {batch}\n")
        sync(client, fake, diagnosis)
        if batch < 3:
            assert run_due(notifier, batch * 5) == 0  # not quiet yet: nothing sent
    assert fake.runs[run["id"]]["status"] == "completed"
    run_due(notifier, 16)  # settled by the last job: at once
    assert len(fake.comments_on(REPO, pr["number"])) == 1
    run_due(notifier, 60)
    run_due(notifier, 120)

    posts = [p for m, p in writes(fake) if m == "POST"]
    edits = [p for m, p in writes(fake) if m == "PATCH"]
    assert len(posts) == 1 and len(edits) <= 2
    [comment] = fake.comments_on(REPO, pr["number"])
    assert "## ❌ 40 new failures" in comment["body"]


def test_changes_wait_for_the_quiet_period(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    run = fake.add_run(REPO, pr["head"]["sha"], jobs=("test", "slow"))
    test_id, slow_id = job_ids(fake, run["id"])
    fake.start_job(test_id)
    fake.start_job(slow_id)
    fake.finish_job(test_id, "failure")
    fake.set_log(test_id, "##[error]boom\n")
    sync(client, fake, diagnosis)  # diagnosed while `slow` still runs: not settled
    assert run_due(notifier, 0) == 0
    assert run_due(notifier, 29) == 0
    assert run_due(notifier, 31) == 1
    [comment] = fake.comments_on(REPO, pr["number"])
    assert "❌ 1 new failure · ⏳ 1 job running" in comment["body"]


def test_a_send_waits_for_the_logs_being_read(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    deliver_events(client, fake.events)  # the run completed; its failure is not diagnosed
    assert run_due(notifier, 0) == 1  # claimed, and held
    assert fake.comments_on(REPO, pr["number"]) == []
    [row] = outbox_rows()
    assert row.pending_since is not None and row.error == "waiting for diagnoses"
    fake._delivered_events = len(fake.events)
    sync(client, fake, diagnosis)
    run_due(notifier, 6)
    [comment] = fake.comments_on(REPO, pr["number"])
    assert "diagnosing" not in comment["body"] and "AssertionError" in comment["body"]


def test_duplicate_deliveries_and_a_poll_send_nothing_more(
    client, fake, diagnosis, notifier, github_url
):
    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)
    for event in fake.events:  # GitHub redelivers, and sends some twice under new GUIDs
        signed_post(client, event.name, event.payload, delivery_id=event.guid)
        signed_post(client, event.name, event.payload)
    with db.database.connection_context():
        make_poller(fake, github_url).run_once()
    drain(notifier)
    assert [m for m, _ in writes(fake)] == ["POST"]
    assert [m for m, _ in writes(fake, "checks")] == ["POST"]
    assert all(row.pending_since is None for row in outbox_rows())


def test_two_workers_draining_at_once_send_each_once(client, fake, diagnosis, github_url):
    prs = [fake.open_pr(REPO) for _ in range(6)]
    for pr in prs:
        failing_run(fake, pr)
    sync(client, fake, diagnosis)
    clients = [app_client(fake, github_url, attempts=1) for _ in range(2)]
    pace = Pace(spacing=0)
    workers = [
        Notifier([Comment(github, pace), Check(github, pace)], holder=f"worker-{i}")
        for i, github in enumerate(clients)
    ]
    start = threading.Barrier(2)
    errors = []

    def work(notifier):
        try:
            start.wait()
            drain(notifier)
        except Exception as exc:  # the test reports it below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for github in clients:
        github.close()
    assert errors == []
    for pr in prs:
        assert len(fake.comments_on(REPO, pr["number"])) == 1
    assert len(fake.check_runs) == len(prs)
    assert len([m for m, _ in writes(fake) if m == "POST"]) == len(prs)


def test_drafts_get_nothing_until_ready(client, fake, diagnosis, notifier):
    pr = fake.open_pr(REPO, draft=True)
    failing_run(fake, pr)
    sync(client, fake, diagnosis)
    drain(notifier)
    assert fake.comments_on(REPO, pr["number"]) == [] and fake.check_runs == {}

    fake.ready_for_review(REPO, pr["number"])
    sync(client, fake, diagnosis)
    drain(notifier)
    assert len(fake.comments_on(REPO, pr["number"])) == 1


def test_a_run_that_completed_before_its_pr_was_known_is_notified(
    client, fake, diagnosis, notifier
):
    sha = "c" * 40
    fake.add_run(REPO, sha, jobs=("test",))  # pushed and run before the PR was opened
    run_id = max(fake.runs)
    fake.finish_run(run_id, {"test": "failure"})
    for job_id in job_ids(fake, run_id):
        fake.set_log(job_id, "##[error]boom\n")
    sync(client, fake, diagnosis)
    pr = fake.open_pr(REPO, head_sha=sha)
    sync(client, fake, diagnosis)
    drain(notifier)
    [comment] = fake.comments_on(REPO, pr["number"])
    assert "❌ 1 new failure" in comment["body"]


def test_a_worker_whose_claim_was_lost_sends_nothing(client, fake, diagnosis, notifier, pace):
    from prmonitor.storage import outbox
    from prmonitor.storage.models import NotifyOutbox, utcnow

    pr = fake.open_pr(REPO)
    failing_run(fake, pr)
    sync(client, fake, diagnosis)
    now = utcnow()
    with db.database.connection_context():
        [mine] = outbox.claim("slow-worker", now, now)
        NotifyOutbox.update(claimed_until=now - datetime.timedelta(seconds=1)).execute()
        [theirs] = outbox.claim("other-worker", now, now)
        assert notifier.send(mine) == "lost"
        assert writes(fake) == [] and fake.check_runs == {}
        assert notifier.send(theirs) == "sent"
    assert len(fake.comments_on(REPO, pr["number"])) == 1
