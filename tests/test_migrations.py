"""Numbered migrations: rerunnable, matching the models, and upgrading old data intact; and the
seed document's own SQL, run unchanged."""

import datetime
import shutil
import subprocess

import pytest
from playhouse.migrations import Runner
from playhouse.schema_diff import diff_models

from prmonitor import create_app
from prmonitor.storage import db
from prmonitor.storage.models import MODELS, Pr, Workflow, WorkflowJob

from .conftest import make_config, signed_post
from .events import job_event, pr_event, run_event, steps

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
def bare_db(database_url):
    """A bound, connected, empty database (no migrations applied)."""
    create_app(make_config(database_url))
    database = db.database.obj
    database.connect(reuse_if_open=True)
    yield database
    database.close()


def test_migrate_is_safe_to_rerun(bare_db):
    assert db.migrate(bare_db) == ["0001_initial", "0002_app_tracking", "0003_polling"]
    assert db.migrate(bare_db) == []


def test_migrated_schema_matches_the_models(bare_db):
    db.migrate(bare_db)
    diff = diff_models(bare_db, MODELS)
    assert not diff, str(diff)


def _seed_era_rows(database):
    """Rows as the original monitor wrote them, before 0002 existed."""
    created = datetime.datetime(2026, 1, 2, 3, 4, 5)
    done = datetime.datetime(2026, 1, 2, 3, 9, 0)
    database.execute_sql(
        "INSERT INTO prs (pr_number, created_at) VALUES (4492, %s)".replace("%s", database.param),
        (created,),
    )
    pr_id = database.execute_sql("SELECT id FROM prs").fetchone()[0]
    database.execute_sql(
        "INSERT INTO workflows (pr_id, run_id, workflow_name, status, conclusion, head_sha, "
        "html_url, run_number, run_attempt, created_at, completed_at, failure_details) VALUES "
        f"({', '.join([database.param] * 12)})",
        (
            pr_id,
            8001,
            "CI",
            "completed",
            "failure",
            "abc",
            "https://github.com/x/y/actions/runs/8001",
            42,
            1,
            created,
            done,
            None,
        ),
    )
    workflow_id = database.execute_sql("SELECT id FROM workflows").fetchone()[0]
    for job_id, conclusion, failed in ((1, "failure", '["Run tests"]'), (2, "success", "[]")):
        database.execute_sql(
            "INSERT INTO workflow_jobs (workflow_id, pr_id, job_id, job_name, status, conclusion,"
            " failed_steps, error_message, html_url, runner_name) VALUES "
            f"({', '.join([database.param] * 10)})",
            (
                workflow_id,
                pr_id,
                job_id,
                f"job-{job_id}",
                "completed",
                conclusion,
                failed,
                "Run tests" if failed != "[]" else None,
                f"https://github.com/x/y/runs/{job_id}",
                "GitHub Actions 2",
            ),
        )


def _dump(database, table):
    cursor = database.execute_sql(f"SELECT * FROM {table} ORDER BY id")
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_upgrade_from_0001_keeps_every_row(bare_db):
    Runner(bare_db, str(db.migrations_dir())).up(target="0001_initial")
    _seed_era_rows(bare_db)
    before = {t: _dump(bare_db, t) for t in ("prs", "workflows", "workflow_jobs")}
    if db.is_postgres(bare_db):
        # Times are stored as naive UTC whatever the session's time zone.
        bare_db.execute_sql("SET TIME ZONE 'Asia/Tokyo'")
    try:
        assert db.migrate(bare_db) == ["0002_app_tracking", "0003_polling"]
    finally:
        if db.is_postgres(bare_db):
            bare_db.execute_sql("RESET TIME ZONE")
    for table, rows in before.items():
        after = _dump(bare_db, table)
        assert len(after) == len(rows)
        for old, new in zip(rows, after, strict=True):
            assert {k: new[k] for k in old} == old
    assert not diff_models(bare_db, MODELS)
    workflow = Workflow.get()
    assert (workflow.pr.pr_number, workflow.run_attempt, workflow.repo_full_name) == (4492, 1, "")
    assert WorkflowJob.select().where(WorkflowJob.conclusion == "failure").count() == 1
    # Upgraded rows are as far along as their status says: nothing late can move them back.
    assert (workflow.status_rank, workflow.updated_at) == (3, workflow.completed_at)
    assert {job.status_rank for job in WorkflowJob.select()} == {3}
    # Seed-era PRs do not each cost the poller a "final pass" call after the upgrade.
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    reconciled = [pr.reconciled_at for pr in Pr.select()]
    assert reconciled and all(abs(at - now) < datetime.timedelta(minutes=5) for at in reconciled)


def test_upgrade_normalises_the_original_monitors_text_times(database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("Postgres columns are typed; only SQLite keeps the text as written")
    app = create_app(make_config(database_url))
    database = db.database.obj
    with database.connection_context():
        Runner(database, str(db.migrations_dir())).up(target="0001_initial")
        _seed_era_rows(database)
        database.execute_sql(
            "UPDATE workflows SET created_at = '2026-11-20T10:00:00Z', "
            "started_at = '2026-11-20T12:00:05+02:00', completed_at = '2026-11-20T10:06:40.123Z'"
        )
        db.migrate(database)
        stored = database.execute_sql(
            "SELECT created_at, started_at, completed_at, updated_at FROM workflows"
        ).fetchone()
    assert stored == (
        "2026-11-20 10:00:00",
        "2026-11-20 10:00:05",
        "2026-11-20 10:06:40",
        "2026-11-20 10:06:40",
    )
    # A late in-progress event for the upgraded run does not move it back.
    late = run_event("in_progress", id=8001, updated_at="2026-11-20T10:01:00Z")
    assert signed_post(app.test_client(), "workflow_run", late).status_code == 200
    with database.connection_context():
        assert Workflow.get(Workflow.run_id == 8001).status == "completed"


def test_upgraded_seed_data_is_served_by_the_api(database_url):
    app = create_app(make_config(database_url))
    database = db.database.obj
    with database.connection_context():
        Runner(database, str(db.migrations_dir())).up(target="0001_initial")
        _seed_era_rows(database)
        db.migrate(database)
    client = app.test_client()
    (workflow,) = client.get("/api/prs/4492/workflows").json["workflows"]
    assert (workflow["job_count"], workflow["failed_job_count"]) == (2, 1)
    (failed,) = client.get("/api/prs/4492/failed-jobs").json["failed_jobs"]
    assert failed["failed_steps"] == '["Run tests"]'


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
