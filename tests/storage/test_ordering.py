"""Run and job deliveries out of order or duplicated: rows only move forward."""

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prmonitor.storage.models import Delivery, Pr, PrHead, Workflow, WorkflowJob

from ..events import job_event, pr_event, run_event, steps

JOB_EVENTS = [
    ("queued", job_event("queued", created_at="2026-11-20T10:00:03Z")),
    ("waiting", job_event("waiting", created_at="2026-11-20T10:00:03Z")),
    (
        "in_progress",
        job_event("in_progress", started_at="2026-11-20T10:00:10Z", steps=steps("success", None)),
    ),
    ("completed", job_event("completed")),
]
RUN_EVENTS = [
    ("requested", run_event("requested", updated_at="2026-11-20T10:00:00Z")),
    ("in_progress", run_event("in_progress", updated_at="2026-11-20T10:00:05Z")),
    ("completed", run_event("completed")),
]
JOB_COLUMNS = (
    "status",
    "conclusion",
    "started_at",
    "completed_at",
    "failed_steps",
    "error_message",
    "runner_name",
    "steps",
    "pr",
    "workflow",
)
RUN_COLUMNS = (
    "status",
    "conclusion",
    "run_number",
    "started_at",
    "completed_at",
    "workflow_name",
    "pr",
)


def final_rows():
    """Every run and job as its columns, with links named by GitHub ids (ours vary by backend)."""
    prs = {pr.id: pr.pr_number for pr in Pr.select()}
    runs = {run.id: run.run_id for run in Workflow.select()}
    jobs = [
        {
            **{k: row[k] for k in JOB_COLUMNS},
            "pr": prs.get(row["pr"]),
            "workflow": runs[row["workflow"]],
        }
        for row in WorkflowJob.select().order_by(WorkflowJob.job_id).dicts()
    ]
    return jobs, [
        {**{k: row[k] for k in RUN_COLUMNS}, "pr": prs.get(row["pr"])}
        for row in Workflow.select().order_by(Workflow.run_id).dicts()
    ]


def clear():
    for model in (WorkflowJob, Workflow, PrHead, Pr, Delivery):
        model.delete().execute()


def deliver_all(deliver, events):
    for name, payload in events:
        assert deliver(name, payload).status_code == 200


every_event = (
    [("workflow_job", p) for _, p in JOB_EVENTS]
    + [("workflow_run", p) for _, p in RUN_EVENTS]
    + [("pull_request", pr_event("opened"))]
)


def without_hints(event):
    """The same delivery as GitHub sends it for a PR from a fork: no pull_requests on the run."""
    name, payload = event
    if name == "workflow_run":
        payload = {**payload, "workflow_run": {**payload["workflow_run"], "pull_requests": []}}
    return name, payload


fork_events = [without_hints(event) for event in every_event]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
@pytest.mark.parametrize("events", [every_event, fork_events], ids=["hinted", "fork"])
def test_any_order_with_duplicates_gives_the_same_rows(deliver, database, events, data):
    order = data.draw(st.permutations(events))
    extra = data.draw(st.lists(st.sampled_from(events), max_size=4))
    clear()
    deliver_all(deliver, events)
    expected = final_rows()
    clear()
    deliver_all(deliver, [*order, *extra])
    assert final_rows() == expected
    job = WorkflowJob.get()
    assert (job.status, job.conclusion) == ("completed", "failure")
    assert json.loads(job.failed_steps) == ["Run tests", "Upload coverage"]
    assert job.error_message == "Run tests"
    assert job.pr_id == Pr.get().id == Workflow.get().pr_id
    assert final_rows()[0][0]["pr"] == 17


def test_every_permutation_of_one_jobs_events(deliver, database):
    """Exhaustively: all 24 orders of queued/waiting/in_progress/completed end completed."""
    expected = None
    for order in itertools.permutations(JOB_EVENTS):
        clear()
        deliver_all(deliver, [("workflow_job", payload) for _, payload in order])
        rows = final_rows()
        expected = expected or rows
        assert rows == expected
    assert expected[0][0]["status"] == "completed"


def test_late_in_progress_does_not_overwrite_completed(deliver, database):
    deliver("workflow_run", run_event("completed"))
    deliver("workflow_run", run_event("in_progress", updated_at="2026-11-20T10:00:05Z"))
    run = Workflow.get()
    assert (run.status, run.conclusion) == ("completed", "failure")


def test_equal_status_is_decided_by_github_timestamp(deliver, database):
    newer = run_event("completed", conclusion="success", updated_at="2026-11-20T10:09:00Z")
    older = run_event("completed", conclusion="failure", updated_at="2026-11-20T10:06:40Z")
    deliver("workflow_run", newer)
    deliver("workflow_run", older)
    assert Workflow.get().conclusion == "success"


def test_rerun_adds_an_attempt_and_api_counts_the_latest(deliver, client, database):
    deliver("pull_request", pr_event("opened"))
    deliver("workflow_run", run_event("completed"))
    deliver("workflow_job", job_event("completed"))
    # Re-run: same run id, attempt 2, a new job id that passes.
    deliver(
        "workflow_job",
        job_event(
            "completed", id=29000000002, run_attempt=2, conclusion="success", steps=steps("success")
        ),
    )
    deliver(
        "workflow_run",
        run_event(
            "completed", run_attempt=2, conclusion="success", updated_at="2026-11-20T11:00:00Z"
        ),
    )
    attempts = {w.run_attempt: w.conclusion for w in Workflow.select()}
    assert attempts == {1: "failure", 2: "success"}
    assert WorkflowJob.select().count() == 2
    workflows = client.get("/api/prs/17/workflows").json["workflows"]
    assert [(w["run_attempt"], w["job_count"], w["failed_job_count"]) for w in workflows] == [
        (2, 1, 0)
    ]
    assert client.get("/api/prs/17/failed-jobs").json["failed_jobs"] == []


def test_a_job_before_its_run_is_kept_and_completed_by_the_run(deliver, database):
    deliver("workflow_job", job_event("in_progress", started_at="2026-11-20T10:00:10Z"))
    placeholder = Workflow.get()
    assert (placeholder.run_id, placeholder.status_rank) == (9100000001, -1)
    assert placeholder.html_url == "https://github.com/acme/widgets/actions/runs/9100000001"
    deliver("workflow_run", run_event("in_progress", updated_at="2026-11-20T10:00:05Z"))
    run = Workflow.get()
    assert (run.id, run.status, run.run_number) == (placeholder.id, "in_progress", 42)
    assert WorkflowJob.get().workflow_id == run.id


def test_failure_details_lists_failed_jobs(deliver, database):
    deliver("workflow_job", job_event("completed"))
    deliver("workflow_job", job_event("completed", id=2, name="lint", steps=steps("failure")))
    deliver(
        "workflow_job",
        job_event("completed", id=3, name="ok", conclusion="success", steps=steps("success")),
    )
    details = json.loads(Workflow.get().failure_details)
    assert details == [
        {"job": "lint", "failed_steps": ["step 1"]},
        {"job": "test-unit", "failed_steps": ["Run tests", "Upload coverage"]},
    ]
