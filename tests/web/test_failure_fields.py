"""The diagnosis in the API: the seed's job fields unchanged, the failure's line, rule, class and
evidence beside them, the failures counted by class, and one job by GitHub's id."""

import datetime

import pytest

from prmonitor import create_app
from prmonitor.failures import classify
from prmonitor.storage import db
from prmonitor.storage.models import WorkflowJob

from ..events import job_event, pr_event, run_event, steps
from ..helpers import make_config
from .test_api import SEED_FAILED_JOB_FIELDS, SEED_JOB_FIELDS

JOB_ID = 29000000001
JOB_URL = "https://github.com/acme/widgets/actions/runs/9100000001/job/29000000001"
LINE = "E       AssertionError: assert None == []"
EXCERPT = f"    def test_empty_input():\n>       assert parse('') == []\n{LINE}"
FAILURE_FIELDS = {
    "failure_class",
    "failure_rule",
    "failure_signature",
    "failure_excerpt",
    "failure_source",
    "log_truncated",
    "evidence",
    "diagnosed_at",
}
SEED_FAILED_JOB = {
    "job_id": JOB_ID,
    "job_name": "test-unit",
    "workflow_name": "CI",
    "run_number": 42,
    "failed_steps": '["Run tests", "Upload coverage"]',
    "html_url": JOB_URL,
    "workflow_url": "https://github.com/acme/widgets/actions/runs/9100000001",
}


@pytest.fixture
def pr17(deliver):
    """PR #17: its CI run with the failed test-unit job and a passing build job."""
    deliver("pull_request", pr_event("opened"))
    deliver("workflow_run", run_event("completed"))
    deliver("workflow_job", job_event("completed"))
    deliver(
        "workflow_job",
        job_event("completed", id=11, name="build", conclusion="success", steps=steps("success")),
    )


def diagnose(database, when=datetime.datetime(2026, 11, 20, 10, 7, 0)):
    """What the worker stores once it has read test-unit's log, then its class."""
    with db.writing():
        WorkflowJob.update(
            error_message=LINE,
            failure_rule="pytest-assertion",
            failure_signature="AssertionError: assert None == []",
            failure_excerpt=EXCERPT,
            failure_source="log",
            diagnosed_at=when,
        ).where(WorkflowJob.job_id == JOB_ID).execute()
        classify.apply(JOB_ID, now=when)


def test_failed_jobs_keep_the_seed_fields_and_gain_the_diagnosis(client, pr17, database):
    (before,) = client.get("/api/prs/17/failed-jobs").json["failed_jobs"]
    assert set(before) >= SEED_FAILED_JOB_FIELDS | FAILURE_FIELDS
    assert before == {**before, **SEED_FAILED_JOB, "error_message": "Run tests"}
    assert {key: before[key] for key in FAILURE_FIELDS - {"log_truncated"}} == dict.fromkeys(
        FAILURE_FIELDS - {"log_truncated"}
    )
    diagnose(database)
    (job,) = client.get("/api/prs/17/failed-jobs").json["failed_jobs"]
    assert job == {
        **job,
        **SEED_FAILED_JOB,
        "error_message": LINE,
        "failure_class": "new",
        "failure_rule": "pytest-assertion",
        "failure_signature": "AssertionError: assert None == []",
        "failure_excerpt": EXCERPT,
        "failure_source": "log",
        "log_truncated": False,
        "diagnosed_at": "2026-11-20T10:07:00Z",
    }
    assert set(job["evidence"]) == {"reason"}  # an object, not JSON text


def test_jobs_of_a_workflow_gain_the_diagnosis_and_passing_jobs_have_none(client, pr17, database):
    diagnose(database)
    ci = client.get("/api/prs/17/workflows").json["workflows"][0]
    failed, passed = client.get(f"/api/workflows/{ci['id']}/jobs").json["jobs"]
    assert set(failed) >= SEED_JOB_FIELDS | FAILURE_FIELDS
    assert (failed["job_id"], failed["error_message"], failed["runner_name"]) == (
        JOB_ID,
        LINE,
        "GitHub Actions 2",
    )
    assert failed["failed_steps"] == '["Run tests", "Upload coverage"]'
    assert failed["failure_class"] == "new" and failed["evidence"]["reason"].startswith("no pass")
    assert set(passed) >= SEED_JOB_FIELDS | FAILURE_FIELDS
    assert (passed["job_name"], passed["failure_class"], passed["evidence"]) == (
        "build",
        None,
        None,
    )


def test_flaky_evidence_links_the_passing_attempt(client, deliver, pr17, database):
    deliver("workflow_run", run_event("completed", run_attempt=2, conclusion="success"))
    rerun = job_event(
        "completed",
        id=29000000002,
        run_attempt=2,
        conclusion="success",
        steps=steps("success"),
        html_url="https://github.com/acme/widgets/actions/runs/9100000001/job/29000000002",
    )
    deliver("workflow_job", rerun)
    diagnose(database)
    body = client.get(f"/api/jobs/{JOB_ID}").json
    assert body["job"]["failure_class"] == "flaky"
    passed = body["job"]["evidence"]["passed"]
    assert (passed["job_id"], passed["run_attempt"]) == (29000000002, 2)
    assert passed["html_url"].endswith("/job/29000000002")


def test_workflow_summary_counts_failures_by_class(client, pr17, database):
    summary = client.get("/api/prs/17/workflow-summary").json["summary"]
    assert summary["jobs"] == {
        "total_jobs": 2,
        "successful_jobs": 1,
        "failed_jobs": 1,
        "in_progress_jobs": 0,
    }
    assert set(summary["workflows"]) == {
        "total_workflows",
        "successful_workflows",
        "failed_workflows",
        "in_progress_workflows",
        "queued_workflows",
    }
    zero = dict.fromkeys(["infrastructure", "flaky", "broken_base", "seen_elsewhere", "new"], 0)
    assert summary["failure_classes"] == {**zero, "unclassified": 1}
    diagnose(database)
    summary = client.get("/api/prs/17/workflow-summary").json["summary"]
    assert summary["failure_classes"] == {**zero, "new": 1, "unclassified": 0}


def test_one_job_by_github_id_with_its_excerpt(client, pr17, database):
    diagnose(database)
    response = client.get(f"/api/jobs/{JOB_ID}")
    assert response.status_code == 200
    job = response.json["job"]
    assert set(job) >= SEED_JOB_FIELDS | FAILURE_FIELDS
    assert job == {
        **job,
        "job_id": JOB_ID,
        "job_name": "test-unit",
        "workflow_name": "CI",
        "run_id": 9100000001,
        "run_number": 42,
        "repo": "acme/widgets",
        "pr_number": 17,
        "error_message": LINE,
        "failure_excerpt": EXCERPT,
        "html_url": JOB_URL,
    }


@pytest.mark.parametrize(
    "path,status",
    [
        ("/api/jobs/424242", 404),
        ("/api/jobs/abc", 400),
        ("/api/jobs/0", 400),
        ("/api/jobs/-1", 400),
        ("/api/jobs/99999999999999999999", 400),
        ("/api/jobs/%C2%B2", 400),
    ],
)
def test_one_job_errors_are_json(client, pr17, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert response.json["success"] is False
    assert response.json["error"]


def test_one_job_needs_the_api_token(database_url, deliver):
    app = create_app(make_config(database_url, api_token="t0ken"))
    db.migrate()
    client = app.test_client()
    assert client.get(f"/api/jobs/{JOB_ID}").status_code == 401
    answer = client.get(f"/api/jobs/{JOB_ID}", headers={"Authorization": "Bearer t0ken"})
    assert answer.status_code == 404  # past the token: not stored in this database
