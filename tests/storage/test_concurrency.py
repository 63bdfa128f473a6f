"""Concurrent deliveries against one database never duplicate or lose a row."""

import json
import random
import threading
import time
import uuid

from prmonitor.github import payloads
from prmonitor.storage import db, ingest, upserts
from prmonitor.storage.models import Delivery, Workflow, WorkflowJob

from ..events import job_event, pr_event, run_event, steps
from ..helpers import signed_post


def post_all(app, deliveries, threads=8):
    """Send (event, payload, delivery_id) from `threads` threads released together."""
    start = threading.Barrier(threads)
    results, lock = [], threading.Lock()
    chunks = [deliveries[i::threads] for i in range(threads)]

    def worker(chunk):
        client = app.test_client()
        start.wait()
        for event, payload, delivery_id in chunk:
            response = signed_post(client, event, payload, delivery_id=delivery_id)
            with lock:
                results.append((response.status_code, response.json.get("outcome")))

    pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    return results


def test_one_delivery_sent_eight_times_at_once_is_processed_once(app, database):
    payload = job_event("completed")
    results = post_all(app, [("workflow_job", payload, "same-id")] * 8)
    assert sorted(results) == [(200, "duplicate")] * 7 + [(200, "processed")]
    assert Delivery.get().attempts == 1
    assert WorkflowJob.select().count() == 1


def test_interleaved_events_of_many_jobs_converge(app, database):
    events = [("pull_request", pr_event("opened"))]
    for minute, action in enumerate(("requested", "in_progress", "completed")):
        run = run_event(action, updated_at=f"2026-11-20T10:0{minute * 3}:00Z")
        events.append(("workflow_run", run))
    for job_id in range(1, 11):
        for action in ("queued", "in_progress", "completed"):
            events.append(
                (
                    "workflow_job",
                    job_event(
                        action, id=job_id, name=f"job-{job_id}", started_at="2026-11-20T10:00:10Z"
                    ),
                )
            )
    deliveries = [(event, payload, str(uuid.uuid4())) for event, payload in events]
    # Each delivery twice (GitHub may send one more than once), in a random order.
    deliveries = deliveries * 2
    random.Random(7).shuffle(deliveries)
    results = post_all(app, deliveries)
    assert all(status == 200 for status, _ in results), results
    assert sum(outcome == "processed" for _, outcome in results) == len(events)
    assert Workflow.select().count() == 1
    run = Workflow.get()
    assert (run.status, run.conclusion, run.run_number) == ("completed", "failure", 42)
    jobs = list(WorkflowJob.select())
    assert len(jobs) == 10
    assert {(j.status, j.conclusion, j.pr_id) for j in jobs} == {
        ("completed", "failure", run.pr_id)
    }
    assert run.pr_id is not None
    failed = [entry["job"] for entry in json.loads(run.failure_details)]
    assert failed == sorted(f"job-{job_id}" for job_id in range(1, 11))


def test_a_pr_and_its_fork_run_arriving_together_are_linked(app, database):
    """A pull_request delivery and a run delivery for the same commit, at the same moment: each
    transaction may miss the other's new row unless they are serialised (Postgres)."""
    for n in range(1, 21):
        sha = f"{n:040x}"
        pr = pr_event("opened", number=100 + n, head={"sha": sha, "ref": f"fork-{n}"})
        run = run_event("completed", id=5000 + n, head_sha=sha, pull_requests=[])
        job = job_event("completed", id=6000 + n, run_id=7000 + n, head_sha=sha)
        results = post_all(
            app,
            [
                ("pull_request", pr, f"pr-{n}"),
                ("workflow_run", run, f"r-{n}"),
                ("workflow_job", job, f"j-{n}"),
            ],
            threads=3,
        )
        assert [status for status, _ in results] == [200, 200, 200]
    unlinked = Workflow.select().where(Workflow.pr.is_null()).count()
    assert (unlinked, WorkflowJob.select().where(WorkflowJob.pr.is_null()).count()) == (0, 0)


def failed_job(job_id, name):
    """A failed job, parsed as a delivery's handler parses it: (row, placeholder)."""
    payload = job_event(
        "completed", id=job_id, name=name, conclusion="failure", steps=steps("failure")
    )
    row = payloads.parse_job(payload["workflow_job"])
    return row, payloads.run_placeholder(row, payload["repository"])


def test_failed_jobs_of_one_run_recorded_at_once_all_reach_failure_details(app, database):
    """Each failed job rewrites its run's failure_details from the failed jobs it can see. A
    transaction must not write its view while another one, still open, records a second failed
    job of the same run: the later commit would drop the first job (Postgres)."""
    deliver_run = app.test_client()
    signed_post(deliver_run, "workflow_run", run_event("in_progress"))

    first_written, second_done = threading.Event(), threading.Event()

    def first():
        with db.database.obj.connection_context(), db.writing():
            ingest.record_jobs([failed_job(1001, "job A")])
            first_written.set()
            # Give the second transaction time to commit, if it can, before this one does.
            second_done.wait(timeout=1.0)

    def second():
        first_written.wait(timeout=10)
        with db.database.obj.connection_context(), db.writing():
            ingest.record_jobs([failed_job(1002, "job B")])
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    details = json.loads(Workflow.get().failure_details)
    assert [entry["job"] for entry in details] == ["job A", "job B"]


def test_the_pollers_batch_of_jobs_and_a_job_delivery_do_not_deadlock(app, database):
    """A job's delivery locks its job's row, then its run's (failure details). The poller stores
    a run's jobs in one transaction: had it locked the run after its first failed job, then
    waited for a job row such a delivery holds, each would wait for the other (Postgres)."""
    signed_post(app.test_client(), "workflow_run", run_event("in_progress"))
    job_a, job_b = failed_job(2001, "job A"), failed_job(2002, "job B")
    errors, b_written, batch_started = [], threading.Event(), threading.Event()

    def delivery_of_b():
        try:
            with db.database.obj.connection_context(), db.writing():
                row, placeholder = job_b
                workflow_id, pr_id, _, _ = upserts.workflow_state(row["run_id"], row["run_attempt"])
                upserts.upsert_job({**row, "workflow_id": workflow_id, "pr_id": pr_id})
                upserts.pr_id_for("-", 0)  # a statement: the deferred job upsert reaches the server
                b_written.set()
                batch_started.wait(timeout=10)
                time.sleep(0.5)  # the batch is now waiting for job B's row
                upserts.refresh_failure_details(workflow_id)
        except Exception as exc:  # noqa: BLE001 - reported below, with the batch's
            errors.append(exc)

    def pollers_batch():
        b_written.wait(timeout=10)
        batch_started.set()
        try:
            with db.database.obj.connection_context(), db.writing():
                ingest.record_jobs([job_a, job_b])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=delivery_of_b), threading.Thread(target=pollers_batch)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    details = json.loads(Workflow.get().failure_details)
    assert [entry["job"] for entry in details] == ["job A", "job B"]
