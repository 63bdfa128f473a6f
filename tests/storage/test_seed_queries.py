"""The seed document's own SQL, run unchanged, counts a pull request's jobs right."""

import shutil
import subprocess

import pytest

from prmonitor.storage.models import Pr

from ..events import job_event, pr_event, run_event, steps

# Copied verbatim from the seed document ("Manual Database Queries").
SEED_SUMMARY_SQL = """
SELECT
    w.workflow_name,
    w.status,
    w.conclusion,
    COUNT(j.id) as total_jobs,
    SUM(CASE WHEN j.conclusion = 'failure' THEN 1 ELSE 0 END) as failed_jobs
FROM workflows w
LEFT JOIN workflow_jobs j ON j.workflow_id = w.id
JOIN prs p ON p.id = w.pr_id
WHERE p.pr_number = 4492
GROUP BY w.id;
"""
SEED_FAILED_SQL = """
SELECT
    w.workflow_name,
    j.job_name,
    j.failed_steps,
    j.html_url
FROM workflow_jobs j
JOIN workflows w ON w.id = j.workflow_id
JOIN prs p ON p.id = j.pr_id
WHERE p.pr_number = 4492 AND j.conclusion = 'failure';
"""


@pytest.fixture
def pr4492(deliver):
    """PR 4492: CI failed (two failed jobs of three, one re-run attempt), Lint passed."""
    pr = {"number": 4492, "head": {"sha": "c" * 40, "ref": "feature"}}
    deliver("pull_request", pr_event("opened", **pr))
    sha = {"head_sha": "c" * 40, "pull_requests": []}
    deliver("workflow_run", run_event("completed", **sha))
    deliver("workflow_job", job_event("completed", id=1, head_sha="c" * 40))
    deliver(
        "workflow_job",
        job_event(
            "completed", id=2, name="lint-js", head_sha="c" * 40, steps=steps("success", "failure")
        ),
    )
    deliver(
        "workflow_job",
        job_event(
            "completed",
            id=3,
            name="build",
            conclusion="success",
            head_sha="c" * 40,
            steps=steps("success"),
        ),
    )
    deliver("workflow_run", run_event("completed", id=5, name="Lint", conclusion="success", **sha))
    deliver(
        "workflow_job",
        job_event(
            "completed",
            id=4,
            run_id=5,
            name="ruff",
            conclusion="success",
            head_sha="c" * 40,
            steps=steps("success"),
        ),
    )
    # Another PR's data must not leak into 4492's numbers.
    deliver("pull_request", pr_event("opened", number=1, head={"sha": "d" * 40, "ref": "x"}))
    deliver("workflow_job", job_event("completed", id=9, run_id=9, head_sha="d" * 40))


EXPECTED_SUMMARY = {("CI", "completed", "failure", 3, 2), ("Lint", "completed", "success", 1, 0)}


EXPECTED_FAILED = {
    (
        "CI",
        "test-unit",
        '["Run tests", "Upload coverage"]',
        "https://github.com/acme/widgets/actions/runs/9100000001/job/29000000001",
    ),
    (
        "CI",
        "lint-js",
        '["step 2"]',
        "https://github.com/acme/widgets/actions/runs/9100000001/job/29000000001",
    ),
}


def test_seed_queries_run_unchanged_and_count_right(database, pr4492):
    summary = {tuple(row) for row in database.execute_sql(SEED_SUMMARY_SQL).fetchall()}
    assert summary == EXPECTED_SUMMARY
    failed = {tuple(row) for row in database.execute_sql(SEED_FAILED_SQL).fetchall()}
    assert failed == EXPECTED_FAILED


@pytest.mark.skipif(not shutil.which("sqlite3"), reason="the sqlite3 command is not installed")
def test_seed_queries_through_the_sqlite3_command(database_url, database, pr4492, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("the sqlite3 command reads SQLite files only")
    (tmp_path / "data").mkdir(exist_ok=True)
    database.execute_sql("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(database.database, tmp_path / "data" / "pr_tracking.db")

    def run(sql):
        out = subprocess.run(
            ["sqlite3", "data/pr_tracking.db", sql],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {tuple(line.split("|")) for line in out.splitlines()}

    assert run(SEED_SUMMARY_SQL) == {tuple(map(str, row)) for row in EXPECTED_SUMMARY}
    assert run(SEED_FAILED_SQL) == EXPECTED_FAILED


def test_seed_query_counts_each_attempt_separately(database, pr4492, deliver):
    """A re-run is a new attempt row, so the seed's per-workflow counts stay per attempt."""
    deliver(
        "workflow_job",
        job_event(
            "completed",
            id=7,
            run_attempt=2,
            conclusion="success",
            head_sha="c" * 40,
            steps=steps("success"),
        ),
    )
    summary = sorted(tuple(row) for row in database.execute_sql(SEED_SUMMARY_SQL).fetchall())
    assert ("CI", "completed", "failure", 3, 2) in summary
    assert ("CI", "in_progress", None, 1, 0) in summary
    assert Pr.select().count() == 2
