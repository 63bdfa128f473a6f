"""Out-of-order and duplicated deliveries are normal: rows only move forward, and every run and
job finds its pull request by head SHA whatever arrives first."""

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prmonitor.storage.models import Delivery, Pr, PrHead, Workflow, WorkflowJob

from .events import SHA, job_event, pr_event, run_event, steps

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


def test_fork_runs_have_no_pull_requests_and_match_by_head_sha(deliver, database):
    deliver("pull_request", pr_event("opened", number=5, head={"sha": "f" * 40, "ref": "patch"}))
    fork_run = run_event("completed", id=555, head_sha="f" * 40, pull_requests=[])
    deliver("workflow_run", fork_run)
    deliver("workflow_job", job_event("completed", id=556, run_id=555, head_sha="f" * 40))
    pr = Pr.get(Pr.pr_number == 5)
    assert Workflow.get(Workflow.run_id == 555).pr_id == pr.id
    assert WorkflowJob.get(WorkflowJob.job_id == 556).pr_id == pr.id


def test_runs_before_their_pr_is_known_are_attached_later(deliver, database):
    deliver("workflow_job", job_event("completed", head_sha="a" * 40))
    deliver("workflow_run", run_event("completed", head_sha="a" * 40, pull_requests=[]))
    assert Workflow.get().pr_id is None and WorkflowJob.get().pr_id is None
    deliver("pull_request", pr_event("opened", head={"sha": "a" * 40, "ref": "late"}))
    pr = Pr.get()
    assert Workflow.get().pr_id == pr.id
    assert WorkflowJob.get().pr_id == pr.id


def test_run_for_an_earlier_head_still_finds_its_pr(deliver, database):
    deliver(
        "pull_request",
        pr_event("opened", head={"sha": "1" * 40, "ref": "b"}, updated_at="2026-11-20T09:00:00Z"),
    )
    deliver(
        "pull_request",
        pr_event(
            "synchronize", head={"sha": "2" * 40, "ref": "b"}, updated_at="2026-11-20T09:30:00Z"
        ),
    )
    # The run for the first push arrives after the second push.
    deliver("workflow_run", run_event("completed", id=1001, head_sha="1" * 40, pull_requests=[]))
    pr = Pr.get()
    assert pr.head_sha == "2" * 40
    assert Workflow.get(Workflow.run_id == 1001).pr_id == pr.id


def test_older_pull_request_event_does_not_roll_back_the_head(deliver, database):
    deliver(
        "pull_request",
        pr_event(
            "synchronize",
            head={"sha": "2" * 40, "ref": "b"},
            updated_at="2026-11-20T09:30:00Z",
            title="New title",
        ),
    )
    deliver(
        "pull_request",
        pr_event(
            "opened",
            head={"sha": "1" * 40, "ref": "b"},
            updated_at="2026-11-20T09:00:00Z",
            title="Old title",
        ),
    )
    pr = Pr.get()
    assert (pr.head_sha, pr.title) == ("2" * 40, "New title")
    assert {h.head_sha for h in PrHead.select()} == {"1" * 40, "2" * 40}


SECOND = "2026-11-21T09:00:00Z"
A, B = "a" * 40, "b" * 40


@pytest.mark.parametrize(
    "events,expected",
    [
        # A bot labels and closes (or merges) in one second; the label's delivery comes late.
        ([("closed", "closed", False, A), ("labeled", "open", False, A)], ("closed", A)),
        ([("closed", "closed", True, A), ("labeled", "open", False, A)], ("merged", A)),
        ([("closed", "closed", True, A), ("reopened", "open", False, A)], ("merged", A)),
        # Closed and reopened in one second: the reopening says it is the later one.
        ([("closed", "closed", False, A), ("reopened", "open", False, A)], ("open", A)),
        # A push and an edit in one second: only the push moves the head.
        ([("synchronize", "open", False, B), ("edited", "open", False, A)], ("open", B)),
        ([("edited", "open", False, A), ("synchronize", "open", False, B)], ("open", B)),
        # Labeled, pushed and closed in one second, the push's delivery late: the close carries
        # the new head, and the late push neither reopens the PR nor moves its head.
        ([("labeled", "open", False, A), ("closed", "closed", False, B)], ("closed", B)),
        ([("labeled", "open", False, A), ("closed", "closed", True, B)], ("merged", B)),
        (
            [
                ("labeled", "open", False, A),
                ("closed", "closed", False, B),
                ("synchronize", "open", False, B),
            ],
            ("closed", B),
        ),
    ],
)
def test_pull_request_events_of_one_second(deliver, database, events, expected):
    deliver("pull_request", pr_event("opened", head={"sha": A}, updated_at="2026-11-21T08:00:00Z"))
    for action, state, merged, head in events:
        payload = pr_event(
            action, state=state, merged=merged, head={"sha": head}, updated_at=SECOND
        )
        deliver("pull_request", payload)
    pr = Pr.get()
    assert (pr.state, pr.head_sha) == expected


def test_merged_and_closed_states(deliver, database):
    deliver(
        "pull_request",
        pr_event("closed", state="closed", merged=True, updated_at="2026-11-21T09:00:00Z"),
    )
    assert Pr.get().state == "merged"
    deliver("pull_request", pr_event("closed", number=18, state="closed", merged=False))
    assert Pr.get(Pr.pr_number == 18).state == "closed"


def test_pull_requests_hint_creates_the_pr_for_its_own_repo_and_commit(deliver, database):
    deliver("workflow_run", run_event("completed"))
    pr = Pr.get()
    assert (pr.pr_number, pr.repo_full_name, pr.head_sha) == (17, "acme/widgets", SHA)
    assert Workflow.get().pr_id == pr.id
    # A webhook for the PR later fills in what the hint could not say.
    deliver("pull_request", pr_event("opened"))
    assert Pr.get().title == "Fix the parser"
    assert Pr.select().count() == 1


def test_hints_naming_another_repository_or_commit_are_ignored(deliver, database):
    run = run_event("completed", head_sha="b" * 40)  # the hint's head is SHA, not b...
    deliver("workflow_run", run)
    other = run_event("completed", id=77)
    other["workflow_run"]["pull_requests"][0]["base"]["repo"]["id"] = 1
    deliver("workflow_run", other)
    assert Pr.select().count() == 0
    assert Workflow.select().where(Workflow.pr.is_null(False)).count() == 0


def test_same_sha_in_two_repositories_stays_apart(deliver, database):
    deliver("pull_request", pr_event("opened", repo="acme/one"))
    deliver("pull_request", pr_event("opened", repo="acme/two"))
    deliver("workflow_run", run_event("completed", repo="acme/two", pull_requests=[]))
    run = Workflow.get()
    assert run.pr.repo_full_name == "acme/two"


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
