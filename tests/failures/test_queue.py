"""The diagnosis queue end to end: a failed job's row enqueues one task, whoever sees it first;
the worker reads its log from the fake GitHub (a redirect to storage that refuses a token),
retries a log that is not there yet, and stores the line it picked on the job."""

import threading
import time

import pytest

from prmonitor.failures.diagnose import NEVER_RAN
from prmonitor.storage import db, tasks
from prmonitor.storage.models import EPOCH, DiagnosisTask, WorkflowJob

from ..helpers import signed_post
from ..poll.world import deliver_events, job_ids, make_poller
from .conftest import REPO

PYTEST_LOG = """\
##[group]Run actions/checkout@v4
Syncing repository: octo-org/widgets
##[endgroup]
##[group]Run pytest -q
\x1b[36;1mpytest -q\x1b[0m
shell: /usr/bin/bash -e {0}
##[endgroup]
============================= test session starts ==============================
collected 3 items

tests/test_parser.py .F.                                                 [100%]

=================================== FAILURES ===================================
______________________________ test_empty_input _______________________________

    def test_empty_input():
>       assert parse("") == []
E       AssertionError: assert None == []
E        +  where None = parse('')

tests/test_parser.py:12: AssertionError
=========================== short test summary info ============================
FAILED tests/test_parser.py::test_empty_input - AssertionError: assert None == []
========================= 1 failed, 2 passed in 0.12s ==========================
##[error]Process completed with exit code 1.
Post job cleanup.
"""


def failing_pr(fake, log=PYTEST_LOG, annotations=None, author="octocat"):
    """A PR whose run's `test` job failed with `log`; returns (pr, run, the failed job's id)."""
    pr = fake.open_pr(REPO, author=author)
    run = fake.add_run(REPO, pr["head"]["sha"], jobs=("build", "test"))
    fake.finish_run(run["id"], {"test": "failure"})
    failed = next(i for i in job_ids(fake, run["id"]) if fake.jobs[i]["name"] == "test")
    fake.set_log(failed, log, annotations)
    return pr, run, failed


def stored(job_id):
    with db.database.connection_context():
        return WorkflowJob.get(WorkflowJob.job_id == job_id)


def task_states():
    with db.database.connection_context():
        return {t.job_id: (t.state, t.attempts) for t in DiagnosisTask.select()}


def make_due_now():
    """The retry's delay has passed."""
    with db.database.connection_context():
        DiagnosisTask.update(due_at=EPOCH).execute()


def log_calls(fake):
    return [c for c in fake.calls if "/logs" in c.path or "/_blobs/" in c.path]


def test_a_failed_job_gets_its_log_line_off_the_request_path(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    # The webhook requests stored the step's name and enqueued; they downloaded nothing.
    assert stored(failed).error_message == "Run tests"
    assert log_calls(fake) == []
    assert task_states() == {failed: ("due", 0)}

    assert loop.run_due() == 1
    job = stored(failed)
    assert "AssertionError: assert None == []" in job.error_message
    assert job.failure_source == "log" and job.failure_rule and job.diagnosed_at
    assert "test_empty_input" in job.failure_excerpt
    assert job.failure_class == "new"
    assert task_states() == {failed: ("done", 1)}


def test_the_signed_storage_url_gets_no_token(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    loop.run_due()
    calls = log_calls(fake)
    # The API answered with a redirect (with the installation's token); the storage host was
    # asked without one: the fake's storage answers 400 to a request carrying a token.
    assert [(c.status, c.auth) for c in calls] == [(302, "installation"), (200, None)]
    assert stored(failed).failure_source == "log"


def test_duplicates_and_a_poll_enqueue_one_task(app, client, fake, github_url, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    for event in fake.events:  # GitHub's redelivery of each: the same GUIDs
        deliver_events(client, [event])
    poller = make_poller(fake, github_url)
    poller.run_once()  # reads the same failed job from the API
    poller.github.close()
    assert task_states() == {failed: ("due", 0)}
    loop.run_due()
    assert task_states() == {failed: ("done", 1)}
    deliver_events(client, [e for e in fake.events if e.name == "workflow_job"][-1:])
    assert task_states() == {failed: ("done", 1)}  # a late redelivery enqueues nothing more
    assert len(log_calls(fake)) == 2


def test_a_later_delivery_of_the_job_keeps_the_diagnosed_line(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    loop.run_due()
    line = stored(failed).error_message
    completed = [e for e in fake.events if e.name == "workflow_job"][-1].payload
    # Further along than the stored row (a later completed_at), so the upsert does write the
    # job: only the step name it carries must not replace the log's line.
    job = {**completed["workflow_job"], "completed_at": "2099-01-01T00:00:00Z"}
    assert (
        signed_post(client, "workflow_job", {**completed, "workflow_job": job}).status_code == 200
    )
    assert stored(failed).completed_at.year == 2099
    assert stored(failed).error_message == line != "Run tests"


def test_a_log_not_there_yet_is_read_on_a_later_try(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    # GitHub makes the log available some seconds after the job completes: 404 until then.
    fake.inject(r"/actions/jobs/\d+/logs", status=404, times=2)
    loop.run_due()
    assert task_states() == {failed: ("due", 1)}
    assert stored(failed).error_message == "Run tests" and stored(failed).diagnosed_at is None
    assert loop.run_due() == 0  # not due again before its backoff
    make_due_now()
    loop.run_due()
    make_due_now()
    loop.run_due()
    assert task_states() == {failed: ("done", 3)}
    assert stored(failed).failure_source == "log"


def test_a_log_that_never_appears_keeps_the_failed_step(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    fake.inject(r"/actions/jobs/\d+/logs", status=404, times=100)
    for _ in range(20):
        make_due_now()
        loop.run_due()
    state, attempts = task_states()[failed]
    assert state == "gave_up" and attempts == 9
    job = stored(failed)
    assert job.error_message == "Run tests" and job.failure_source == "steps"
    assert job.failure_class == "new"


def test_a_server_error_is_retried(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    # More 502s than the client's own retries: the task comes back later.
    fake.inject(r"/actions/jobs/\d+/logs", status=502, times=loop.diagnoser.github.attempts)
    loop.run_due()
    assert task_states()[failed][0] == "due"
    make_due_now()
    loop.run_due()
    assert task_states()[failed][0] == "done"


def test_annotations_give_the_line_when_the_log_has_only_the_wrapper(client, fake, loop):
    log = "##[group]Run npm run lint\n> eslint .\n##[error]Process completed with exit code 1.\n"
    annotation = {
        "path": "src/app.ts",
        "start_line": 12,
        "end_line": 12,
        "annotation_level": "failure",
        "title": "",
        "message": "src/app.ts:12:5: 'user' is assigned a value but never used (no-unused-vars)",
        "raw_details": "",
    }
    _, _, failed = failing_pr(fake, log=log, annotations=[annotation])
    deliver_events(client, fake.events)
    loop.run_due()
    job = stored(failed)
    assert job.failure_source == "annotations"
    assert "never used" in job.error_message


def test_a_job_that_never_ran_is_infrastructure_without_its_log(client, fake, loop):
    pr = fake.open_pr(REPO)
    run = fake.add_run(REPO, pr["head"]["sha"], jobs=("test",))
    (job_id,) = job_ids(fake, run["id"])
    fake.lose_runner(job_id)
    deliver_events(client, fake.events)
    loop.run_due()
    job = stored(job_id)
    assert job.error_message == NEVER_RAN and job.failure_source == "job"
    assert job.failure_class == "infrastructure"
    assert log_calls(fake) == []


def test_a_second_worker_claims_other_tasks_without_waiting(client, fake, loop):
    """FOR UPDATE SKIP LOCKED: while one worker's claim is still uncommitted, another's skips
    its rows at once instead of waiting for them."""
    if not db.is_postgres():
        pytest.skip("SQLite has one claimant at a time: its writers queue on the file lock")
    for _ in range(3):
        failing_pr(fake)
    deliver_events(client, fake.events)
    first_claimed, release, second = threading.Event(), threading.Event(), []

    def first():
        with db.database.connection_context(), db.database.atomic():
            first_claimed.got = tasks.claim("w1", limit=2)
            first_claimed.set()
            release.wait(10)  # holds its row locks, uncommitted

    holder = threading.Thread(target=first)
    holder.start()
    try:
        assert first_claimed.wait(10)
        started = time.monotonic()
        with db.database.connection_context():
            second.extend(tasks.claim("w2", limit=3))
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join()
    assert waited < 5  # it did not wait for the first transaction (held 10 s)
    ids = [t.job_id for t in first_claimed.got] + [t.job_id for t in second]
    assert len(first_claimed.got) == 2 and len(second) == 1 and len(set(ids)) == 3


def test_a_stale_claim_writes_nothing(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    with db.database.connection_context():
        stale = tasks.claim("w1")[0]
        DiagnosisTask.update(claimed_until=EPOCH).execute()  # its claim expired
        assert tasks.claim("w2")[0].job_id == failed
        assert loop.diagnoser.run(stale) == "superseded"
    assert stored(failed).diagnosed_at is None
    assert task_states()[failed] == ("due", 2)


def test_a_diagnosis_that_raises_keeps_the_step_and_ends(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)

    def broken(job):
        raise RuntimeError("a rule that breaks on this log")

    loop.diagnoser.read = broken  # the extractor's bug, whatever it is
    loop.run_due()
    assert task_states() == {failed: ("gave_up", 1)}
    job = stored(failed)
    assert job.error_message == "Run tests" and job.failure_source == "steps"


def test_a_log_gitHub_refuses_keeps_the_step(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    fake.inject(r"/actions/jobs/\d+/logs", status=403)  # the App lacks actions: read
    loop.run_due()
    assert task_states() == {failed: ("gave_up", 1)}
    assert stored(failed).failure_source == "steps"


def test_a_refused_signed_url_is_fetched_again(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    fake.inject(r"/_blobs/job-logs/\d+", status=403)  # expired: the API signs a new one
    loop.run_due()
    assert task_states() == {failed: ("due", 1)}
    make_due_now()
    loop.run_due()
    assert task_states() == {failed: ("done", 2)}


def test_a_lost_runner_without_a_log_is_named_by_its_annotation(client, fake, loop):
    annotation = {
        "path": ".github",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "failure",
        "title": "",
        "message": "The self-hosted runner: build-7 lost communication with the server. Verify "
        "the machine is running and has a healthy network connection.",
        "raw_details": "",
    }
    _, _, failed = failing_pr(fake, annotations=[annotation])
    deliver_events(client, fake.events)
    fake.inject(r"/actions/jobs/\d+/logs", status=404, times=100)  # never any log
    loop.run_due()
    job = stored(failed)
    assert task_states() == {failed: ("done", 1)}
    assert job.failure_source == "annotations" and "lost communication" in job.error_message
    assert job.failure_class == "infrastructure"


def test_status_shows_the_queue(client, fake, loop):
    _, _, failed = failing_pr(fake)
    deliver_events(client, fake.events)
    assert client.get("/api/status").json["diagnosis_tasks"] == {"due": 1, "retrying": 0}
    fake.inject(r"/actions/jobs/\d+/logs", status=404)
    loop.run_due()
    assert client.get("/api/status").json["diagnosis_tasks"] == {"due": 0, "retrying": 1}
    make_due_now()
    loop.run_due()
    assert client.get("/api/status").json["diagnosis_tasks"] == {"due": 0, "retrying": 0}


def test_the_worker_thread_claims_a_task_within_seconds(client, fake, loop):
    """The diagnosis loop looks at the queue every second, whatever CHECK_INTERVAL is (the
    poller's, an hour here): a failure is diagnosed moments after its delivery."""
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        _, _, failed = failing_pr(fake)
        deliver_events(client, fake.events)
        enqueued = time.monotonic()
        while stored(failed).diagnosed_at is None and time.monotonic() - enqueued < 10:
            time.sleep(0.05)
    finally:
        loop.stop.set()
        thread.join(timeout=10)
    assert stored(failed).failure_source == "log"
    assert not thread.is_alive()
