"""The seed's REST API, field for field, and its error answers."""

import json

import pytest

from prmonitor import create_app
from prmonitor.storage.models import Pr

from ..events import job_event, pr_event, run_event, steps
from ..helpers import make_config

SEED_WORKFLOW_FIELDS = {
    "id",
    "workflow_name",
    "status",
    "conclusion",
    "job_count",
    "failed_job_count",
    "successful_job_count",
    "in_progress_job_count",
    "html_url",
}
SEED_JOB_FIELDS = {
    "id",
    "job_id",
    "job_name",
    "status",
    "conclusion",
    "failed_steps",
    "error_message",
    "html_url",
    "runner_name",
}
SEED_FAILED_JOB_FIELDS = {
    "job_id",
    "job_name",
    "workflow_name",
    "run_number",
    "failed_steps",
    "error_message",
    "html_url",
    "workflow_url",
}


@pytest.fixture
def pr17(deliver):
    """PR #17 with a failed CI run (one failed, one passing, one running job) and a passing
    Lint run."""
    deliver("pull_request", pr_event("opened"))
    deliver("workflow_run", run_event("completed"))
    deliver(
        "workflow_job",
        job_event(
            "completed",
            name="build",
            id=11,
            conclusion="success",
            steps=steps("success", "success"),
        ),
    )
    deliver("workflow_job", job_event("completed"))
    deliver(
        "workflow_job",
        job_event("in_progress", id=13, name="docs", started_at="2026-11-20T10:00:10Z"),
    )
    deliver(
        "workflow_run",
        run_event(
            "completed",
            id=2,
            name="Lint",
            run_number=7,
            conclusion="success",
            html_url="https://github.com/acme/widgets/actions/runs/2",
            created_at="2026-11-20T09:00:00Z",
        ),
    )
    deliver(
        "workflow_job",
        job_event(
            "completed", id=21, run_id=2, name="ruff", conclusion="success", steps=steps("success")
        ),
    )


def test_workflows_with_job_counts(client, pr17):
    body = client.get("/api/prs/17/workflows").json
    assert body["success"] is True
    ci, lint = body["workflows"]
    assert set(ci) >= SEED_WORKFLOW_FIELDS
    assert (ci["workflow_name"], ci["status"], ci["conclusion"]) == ("CI", "completed", "failure")
    assert (
        ci["job_count"],
        ci["failed_job_count"],
        ci["successful_job_count"],
        ci["in_progress_job_count"],
    ) == (3, 1, 1, 1)
    assert ci["html_url"] == "https://github.com/acme/widgets/actions/runs/9100000001"
    assert (lint["workflow_name"], lint["job_count"], lint["successful_job_count"]) == (
        "Lint",
        1,
        1,
    )


def test_jobs_of_a_workflow_failed_first(client, pr17):
    ci = client.get("/api/prs/17/workflows").json["workflows"][0]
    body = client.get(f"/api/workflows/{ci['id']}/jobs").json
    assert body["success"] is True
    jobs = body["jobs"]
    assert set(jobs[0]) >= SEED_JOB_FIELDS
    assert [j["job_name"] for j in jobs][0] == "test-unit"
    failed = jobs[0]
    assert failed["failed_steps"] == '["Run tests", "Upload coverage"]'
    assert json.loads(failed["failed_steps"]) == ["Run tests", "Upload coverage"]
    assert failed["error_message"] == "Run tests"
    assert failed["runner_name"] == "GitHub Actions 2"
    assert failed["job_id"] == 29000000001
    assert sorted(j["job_name"] for j in jobs[1:]) == ["build", "docs"]


def test_failed_jobs_with_workflow_context(client, pr17):
    body = client.get("/api/prs/17/failed-jobs").json
    assert body["success"] is True
    (job,) = body["failed_jobs"]
    assert set(job) >= SEED_FAILED_JOB_FIELDS
    assert job == {
        **job,
        "job_id": 29000000001,
        "job_name": "test-unit",
        "workflow_name": "CI",
        "run_number": 42,
        "failed_steps": '["Run tests", "Upload coverage"]',
        "error_message": "Run tests",
        "workflow_url": "https://github.com/acme/widgets/actions/runs/9100000001",
    }


def test_workflow_summary(client, pr17):
    body = client.get("/api/prs/17/workflow-summary").json
    assert body == {
        "success": True,
        "summary": {
            "workflows": {
                "total_workflows": 2,
                "successful_workflows": 1,
                "failed_workflows": 1,
                "in_progress_workflows": 0,
                "queued_workflows": 0,
            },
            "jobs": {
                "total_jobs": 4,
                "successful_jobs": 2,
                "failed_jobs": 1,
                "in_progress_jobs": 1,
            },
            # Added by the failure diagnosis; the seed's keys above are as they were.
            "failure_classes": {
                "infrastructure": 0,
                "flaky": 0,
                "broken_base": 0,
                "seen_elsewhere": 0,
                "new": 0,
                "unclassified": 1,
            },
        },
    }


def test_pr_list(client, pr17):
    (pr,) = client.get("/api/prs").json["prs"]
    assert pr == {
        **pr,
        "pr_number": 17,
        "repo": "acme/widgets",
        "title": "Fix the parser",
        "state": "open",
        "failed_workflows": 1,
        "total_workflows": 2,
    }


def test_pr_list_puts_open_prs_before_those_of_unknown_state_on_every_database(client, pr17):
    # A row from before the App (the seed's table) knows no state; it sorts with the closed.
    Pr.insert(pr_number=3, repo_full_name="acme/legacy").execute()
    Pr.insert(pr_number=4, repo_full_name="acme/widgets", state="closed").execute()
    listed = [(pr["pr_number"], pr["state"]) for pr in client.get("/api/prs").json["prs"]]
    assert listed[0] == (17, "open")
    assert sorted(listed[1:]) == [(3, None), (4, "closed")]


def test_repo_routes_and_disambiguation(client, deliver, pr17):
    deliver("pull_request", pr_event("opened", repo="other/place"))
    response = client.get("/api/prs/17/workflows")
    assert response.status_code == 409
    assert response.json["success"] is False
    assert "acme/widgets" in response.json["error"]
    chosen = client.get("/api/prs/17/workflows?repo=acme/widgets").json["workflows"]
    assert len(chosen) == 2
    for route in ("workflows", "failed-jobs", "workflow-summary"):
        by_path = client.get(f"/api/repos/acme/widgets/prs/17/{route}")
        by_query = client.get(f"/api/prs/17/{route}?repo=acme/widgets")
        assert by_path.status_code == 200
        assert by_path.json == by_query.json
    assert client.get("/api/repos/other/place/prs/17/workflows").json["workflows"] == []


@pytest.mark.parametrize(
    "path,status",
    [
        ("/api/prs/abc/workflows", 400),
        ("/api/prs/0/workflows", 400),
        ("/api/prs/-3/failed-jobs", 400),
        ("/api/prs/99999999999999999999/workflow-summary", 400),
        ("/api/prs/17/workflows?repo=not-a-repo", 400),
        ("/api/prs/17/workflows?repo=a/b/c", 400),
        ("/api/prs/17/workflows?repo=a/b%0A", 400),
        ("/api/workflows/x/jobs", 400),
        ("/api/workflows/99999999999999999999999/jobs", 400),
        ("/api/prs/%C2%B2/workflows", 400),
        ("/api/workflows/%C2%B9/jobs", 400),
        ("/api/repos/acme/widgets/prs/%D9%A1/failed-jobs", 400),
        ("/api/prs/404/workflows", 404),
        ("/api/prs/17/workflows?repo=nobody/here", 404),
        ("/api/workflows/424242/jobs", 404),
        ("/api/nothing-here", 404),
    ],
)
def test_errors_are_json(client, pr17, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert response.json["success"] is False
    assert response.json["error"]


def test_healthz(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json) == (200, {"ok": True})


def test_healthz_503_when_the_database_is_gone(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path}/gone/x.db"))
    (tmp_path / "gone" / "x.db").mkdir(parents=True)  # a directory where the file should be
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["ok"] is False
