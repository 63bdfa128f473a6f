"""Numbered migrations: rerunnable, matching the models, upgrading old data intact."""

import datetime

import pytest
from playhouse.migrations import Runner
from playhouse.schema_diff import diff_models

from prmonitor import create_app
from prmonitor.storage import db
from prmonitor.storage.models import MODELS, Pr, Workflow, WorkflowJob

from ..events import run_event
from ..helpers import make_config, signed_post


@pytest.fixture
def bare_app(database_url):
    """The app, bound to an empty database (no migrations applied)."""
    return create_app(make_config(database_url))


@pytest.fixture
def bare_db(bare_app):
    """The app's database, connected, empty (no migrations applied)."""
    database = db.database.obj
    database.connect(reuse_if_open=True)
    yield database
    database.close()


def test_migrate_is_safe_to_rerun(bare_db):
    assert db.migrate(bare_db) == [
        "0001_initial",
        "0002_app_tracking",
        "0003_polling",
        "0004_delivery_retention",
        "0005_failure_diagnosis",
        "0006_pr_listing",
        "0007_notifications",
        "0008_analyses",
        "0009_dashboard",
    ]
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


@pytest.fixture
def seed_era_db(bare_db):
    """The database as the original monitor left it: migrated to 0001 only, with its rows."""
    Runner(bare_db, str(db.migrations_dir())).up(target="0001_initial")
    _seed_era_rows(bare_db)
    return bare_db


def _dump(database, table):
    cursor = database.execute_sql(f"SELECT * FROM {table} ORDER BY id")
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_upgrade_from_0001_keeps_every_row(seed_era_db):
    before = {t: _dump(seed_era_db, t) for t in ("prs", "workflows", "workflow_jobs")}
    if db.is_postgres(seed_era_db):
        # Times are stored as naive UTC whatever the session's time zone.
        seed_era_db.execute_sql("SET TIME ZONE 'Asia/Tokyo'")
    try:
        assert db.migrate(seed_era_db) == [
            "0002_app_tracking",
            "0003_polling",
            "0004_delivery_retention",
            "0005_failure_diagnosis",
            "0006_pr_listing",
            "0007_notifications",
            "0008_analyses",
            "0009_dashboard",
        ]
    finally:
        if db.is_postgres(seed_era_db):
            seed_era_db.execute_sql("RESET TIME ZONE")
    for table, rows in before.items():
        after = _dump(seed_era_db, table)
        assert len(after) == len(rows)
        for old, new in zip(rows, after, strict=True):
            assert {k: new[k] for k in old} == old
    assert not diff_models(seed_era_db, MODELS)
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


def test_upgrade_normalises_the_original_monitors_text_times(database_url, bare_app, seed_era_db):
    if not database_url.startswith("sqlite"):
        pytest.skip("Postgres columns are typed; only SQLite keeps the text as written")
    seed_era_db.execute_sql(
        "UPDATE workflows SET created_at = '2026-11-20T10:00:00Z', "
        "started_at = '2026-11-20T12:00:05+02:00', completed_at = '2026-11-20T10:06:40.123Z'"
    )
    db.migrate(seed_era_db)
    stored = seed_era_db.execute_sql(
        "SELECT created_at, started_at, completed_at, updated_at FROM workflows"
    ).fetchone()
    seed_era_db.close()  # the app's request takes a connection of its own
    assert stored == (
        "2026-11-20 10:00:00",
        "2026-11-20 10:00:05",
        "2026-11-20 10:06:40",
        "2026-11-20 10:06:40",
    )
    # A late in-progress event for the upgraded run does not move it back.
    late = run_event("in_progress", id=8001, updated_at="2026-11-20T10:01:00Z")
    assert signed_post(bare_app.test_client(), "workflow_run", late).status_code == 200
    with seed_era_db.connection_context():
        assert Workflow.get(Workflow.run_id == 8001).status == "completed"


def test_upgraded_seed_data_is_served_by_the_api(bare_app, seed_era_db):
    db.migrate(seed_era_db)
    seed_era_db.close()  # the app's requests take connections of their own
    client = bare_app.test_client()
    (workflow,) = client.get("/api/prs/4492/workflows").json["workflows"]
    assert (workflow["job_count"], workflow["failed_job_count"]) == (2, 1)
    (failed,) = client.get("/api/prs/4492/failed-jobs").json["failed_jobs"]
    assert failed["failed_steps"] == '["Run tests"]'
