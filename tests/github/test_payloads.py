"""The pure parsers, over GitHub's published examples (webhooks and REST) and our fixtures."""

import datetime
import json

import pytest

from prmonitor.github import payloads
from prmonitor.github.payloads import PayloadError

from ..events import OCTOKIT, fixture, job_event, run_event

REST = OCTOKIT / "rest"
needs_octokit = pytest.mark.skipif(not REST.is_dir(), reason="shared/github-payloads is absent")


def rest(name):
    return json.loads((REST / f"{name}.json").read_text())


def test_run_fixture_parses_to_a_workflows_row():
    row = payloads.parse_run(
        fixture("workflow_run.completed")["workflow_run"],
        fixture("workflow_run.completed")["repository"],
        41000001,
    )
    assert row == {
        "run_id": 9100000001,
        "run_attempt": 1,
        "workflow_name": "CI",
        "status": "completed",
        "status_rank": 3,
        "conclusion": "failure",
        "head_sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
        "head_branch": "fix-parser",
        "event": "pull_request",
        "html_url": "https://github.com/acme/widgets/actions/runs/9100000001",
        "run_number": 42,
        "created_at": datetime.datetime(2026, 11, 20, 10, 0, 0),
        "started_at": datetime.datetime(2026, 11, 20, 10, 0, 5),
        "completed_at": datetime.datetime(2026, 11, 20, 10, 6, 40),
        "updated_at": datetime.datetime(2026, 11, 20, 10, 6, 40),
        "repo_full_name": "acme/widgets",
        "repo_id": 700000001,
        "installation_id": 41000001,
    }


def test_job_fixture_parses_failed_steps_like_the_seed():
    row = payloads.parse_job(fixture("workflow_job.completed")["workflow_job"])
    assert row["failed_steps"] == '["Run tests", "Upload coverage"]'
    assert row["error_message"] == "Run tests"
    assert row["labels"] == '["ubuntu-latest"]'
    assert json.loads(row["steps"])[2] == {
        "number": 3,
        "name": "Run tests",
        "status": "completed",
        "conclusion": "failure",
        "started_at": "2026-11-20T10:00:14",
        "completed_at": "2026-11-20T10:06:20",
    }
    assert row["updated_at"] == datetime.datetime(2026, 11, 20, 10, 6, 30)


def test_in_flight_job_has_no_failure():
    row = payloads.parse_job(job_event("queued")["workflow_job"])
    assert (row["status_rank"], row["failed_steps"], row["error_message"]) == (1, "[]", None)


def test_timestamps_with_offsets_become_naive_utc():
    row = payloads.parse_run(
        run_event(created_at="2026-11-20T12:00:00+02:00")["workflow_run"],
        fixture("workflow_run.completed")["repository"],
    )
    assert row["created_at"] == datetime.datetime(2026, 11, 20, 10, 0, 0)


def test_empty_run_name_falls_back_to_the_workflow():
    payload = run_event(name="")
    row = payloads.parse_run(
        payload["workflow_run"], payload["repository"], workflow={"name": "Build and test"}
    )
    assert row["workflow_name"] == "Build and test"


@pytest.mark.parametrize(
    "field,value",
    [
        ("id", "1"),
        ("id", -5),
        ("id", 2**64),
        ("status", 3),
        ("head_sha", None),
        ("created_at", "yesterday"),
        ("run_number", 2**40),
    ],
)
def test_bad_run_fields_raise_payload_error(field, value):
    payload = run_event()
    payload["workflow_run"][field] = value
    with pytest.raises(PayloadError):
        payloads.parse_run(payload["workflow_run"], payload["repository"])


@needs_octokit
def test_rest_workflow_run_and_listing_parse():
    run = rest("actions-get-workflow-run")
    row = payloads.parse_run(run, run["repository"])
    assert (row["run_id"], row["repo_full_name"]) == (run["id"], run["repository"]["full_name"])
    for listed in rest("actions-list-workflow-runs-for-repo")["workflow_runs"]:
        assert payloads.parse_run(listed, listed["repository"])["run_id"] == listed["id"]


@needs_octokit
def test_rest_jobs_parse():
    for job in rest("actions-list-jobs-for-workflow-run")["jobs"]:
        row = payloads.parse_job(job)
        assert (row["job_id"], row["run_id"]) == (job["id"], job["run_id"])
    single = payloads.parse_job(rest("actions-get-job-for-workflow-run"))
    assert single["job_name"]


@needs_octokit
def test_rest_pull_request_parses():
    pr = rest("pulls-get")
    row = payloads.parse_pull_request(pr, pr["base"]["repo"])
    assert (row["pr_number"], row["head_sha"]) == (pr["number"], pr["head"]["sha"])


@needs_octokit
@pytest.mark.parametrize(
    "path",
    sorted((OCTOKIT / "webhooks").glob("workflow_*/*.json"))
    if (OCTOKIT / "webhooks").is_dir()
    else [],
    ids=lambda p: p.name,
)
def test_published_workflow_webhooks_parse(path):
    payload = json.loads(path.read_text())
    if "workflow_run" in payload:
        row = payloads.parse_run(payload["workflow_run"], payload["repository"])
        assert row["run_id"] == payload["workflow_run"]["id"]
    else:
        row = payloads.parse_job(payload["workflow_job"])
        assert row["status"] == payload["workflow_job"]["status"]


@needs_octokit
def test_published_hint_for_another_repository_is_ignored():
    """octokit's example names a PR whose base repository is not the run's repository."""
    payload = json.loads(
        (OCTOKIT / "webhooks/workflow_run/completed.with-pull-requests.payload.json").read_text()
    )
    run = payload["workflow_run"]
    assert run["pull_requests"]
    assert payloads.pull_request_hints(run, payload["repository"]["id"]) == []


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2026-11-20T10:00:07Z", datetime.datetime(2026, 11, 20, 10, 0, 7)),
        ("2026-11-20T10:00:07.900Z", datetime.datetime(2026, 11, 20, 10, 0, 7)),
        ("2026-11-20T10:00:07.123456Z", datetime.datetime(2026, 11, 20, 10, 0, 7)),
        ("2026-11-20T10:00:07.000-07:00", datetime.datetime(2026, 11, 20, 17, 0, 7)),
        ("2026-11-20T12:00:07+02:00", datetime.datetime(2026, 11, 20, 10, 0, 7)),
        ("2026-11-20T10:00:07", datetime.datetime(2026, 11, 20, 10, 0, 7)),
        ("1970-01-01T00:00:00Z", datetime.datetime(1970, 1, 1)),
    ],
)
def test_every_iso_form_github_uses_reads_the_same(value, expected):
    assert payloads.timestamp({"t": value}, "t") == expected


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30T00:00:00Z",
        "2026-02-30T00:00:00.000Z",
        "2026-11-20T25:00:00Z",
        "1969-12-31T23:59:59Z",
        "Z",
    ],
)
def test_impossible_times_in_githubs_form_are_refused(value):
    with pytest.raises(PayloadError):
        payloads.timestamp({"t": value}, "t")
    with pytest.raises(PayloadError):  # a step's time, kept as text, is checked alike
        payloads.parse_job(_job_with_step_time(value))


def _job_with_step_time(value):
    job = job_event("completed")["workflow_job"]
    job["steps"][0]["started_at"] = value
    return job


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T10:00:10Z",
        "2026-11-20T10:00:10.123Z",
        "2024-02-29T23:59:59.5Z",
        "2026-11-20T12:00:10+02:00",
        "2026-11-20T10:00:10.123456+00:00",
    ],
)
def test_a_steps_time_is_the_time_of_the_same_text_elsewhere(value):
    step = json.loads(payloads.parse_job(_job_with_step_time(value))["steps"])[0]
    assert step["started_at"] == payloads.timestamp({"t": value}, "t").isoformat()


@pytest.mark.parametrize("value", ["plain", "t\x00est", "a\ud800b", "✓ ünïcode \U0001f600"])
def test_clean_text_keeps_what_a_database_stores(value):
    cleaned = payloads.clean_text(value)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # no unpaired surrogate left
    assert cleaned.replace("?", "") == value.replace("\x00", "").replace("\ud800", "")


def test_step_times_are_stored_at_one_second_resolution():
    job = job_event("completed")["workflow_job"]
    job["steps"][0].update(started_at="2026-11-20T10:00:10.000Z", completed_at=None)
    step = json.loads(payloads.parse_job(job)["steps"])[0]
    assert (step["started_at"], step["completed_at"]) == ("2026-11-20T10:00:10", None)
