"""`prmonitor show` prints each failed job's line and class, with the evidence's first link."""

import datetime

from prmonitor import cli
from prmonitor.failures import classify
from prmonitor.storage import db
from prmonitor.storage.models import WorkflowJob

from .events import job_event, run_event, steps

JOB_ID = 29000000001
LINE = "FAILED tests/test_parser.py::test_empty_input - AssertionError: assert None == []"
RUNS = "https://github.com/acme/widgets/actions/runs/9100000001"


def diagnose(line=LINE, signature=LINE):
    """What the worker stores once it has read the job's log, then its class."""
    when = datetime.datetime(2026, 11, 20, 10, 7, 0)
    with db.writing():
        WorkflowJob.update(
            error_message=line,
            failure_rule="pytest-failed",
            failure_signature=signature,
            failure_source="log",
            diagnosed_at=when,
        ).where(WorkflowJob.job_id == JOB_ID).execute()
        classify.apply(JOB_ID, now=when)


def show(capsys, monkeypatch, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli.main(["show", "17"]) == 0
    return capsys.readouterr().out


def test_an_undiagnosed_failure_shows_its_failed_step(filled, capsys, monkeypatch):
    out = show(capsys, monkeypatch, filled)
    assert "    line: Run tests\n    class: not diagnosed yet\n" in out
    assert '["Run tests", "Upload coverage"]' in out  # the seed's output stays
    assert f"logs: {RUNS}/job/{JOB_ID}" in out


def test_a_diagnosed_failure_shows_the_logs_line_and_its_class(filled, capsys, monkeypatch):
    diagnose()
    out = show(capsys, monkeypatch, filled)
    assert f"    line: {LINE}\n" in out
    assert "    class: new (no pass on the same commit, nor the same failure" in out
    assert "evidence:" not in out


def test_a_flaky_failure_links_the_job_that_passed(filled, deliver, capsys, monkeypatch):
    """Another run of the same commit passed: its job is the evidence, linked."""
    other_run = "https://github.com/acme/widgets/actions/runs/9100000002"
    deliver("workflow_run", run_event("completed", id=9100000002, conclusion="success"))
    deliver(
        "workflow_job",
        job_event(
            "completed",
            id=29000000002,
            run_id=9100000002,
            conclusion="success",
            steps=steps("success"),
            html_url=f"{other_run}/job/29000000002",
        ),
    )
    diagnose()
    out = show(capsys, monkeypatch, filled)
    assert "    class: flaky (test-unit passed on run 9100000002 of the same commit)\n" in out
    assert f"    evidence: {other_run}/job/29000000002\n" in out


def test_a_generic_line_is_shown_and_stays_new(filled, capsys, monkeypatch):
    diagnose(line="Process completed with exit code 1.", signature=None)
    out = show(capsys, monkeypatch, filled)
    assert "    line: Process completed with exit code 1.\n" in out
    assert "    class: new (no pass on the same commit; the failing line is generic" in out
