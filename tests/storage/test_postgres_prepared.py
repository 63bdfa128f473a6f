"""Postgres: the statements of every delivery are prepared once per connection and executed
after, and behind a transaction pooler (a real PgBouncer, as Heroku's connection pooling runs
it), where a prepared statement does not outlive its transaction, deliveries still land.

Postgres only: they skip without TEST_DATABASE_URL, and the pooler's without Debian's
pgbouncer (.ci/run installs it)."""

import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
import pytest

from prmonitor import create_app
from prmonitor.storage import db

from ..events import job_event, run_event
from ..helpers import make_config, postgres_admin, postgres_schema, signed_post
from ..servers import free_port

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="needs Postgres (TEST_DATABASE_URL)"
)
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
GIVE_UP = "prepared statements unavailable"


def _app(url):
    app = create_app(make_config(url))
    db.migrate(db.database.obj)
    return app


@pytest.fixture
def direct():
    """The app on its own schema of TEST_DATABASE_URL, connected straight to the server."""
    with postgres_schema() as url:
        yield _app(url)
        db.database.obj.close_all()


def _deliver_run(client, run_id, jobs=3):
    """A run and its jobs, each queued, in progress and completed; the replies' outcomes."""
    outcomes = []

    def post(event, payload, delivery_id=None):
        reply = signed_post(client, event, payload, delivery_id=delivery_id)
        assert reply.status_code == 200, reply.get_json()
        outcomes.append(reply.get_json()["outcome"])

    post("workflow_run", run_event("requested", id=run_id))
    for number in range(jobs):
        job_id = run_id * 100 + number
        for action in ("queued", "in_progress", "completed"):
            post("workflow_job", job_event(action, id=job_id, run_id=run_id, name=f"job-{number}"))
    post("workflow_run", run_event("completed", id=run_id))
    return outcomes


def _prepared_statements(database):
    """(name, the query string that prepared it, times executed) of what this thread's pooled
    connection has prepared."""
    cursor = database.execute_sql(
        "SELECT name, statement, generic_plans + custom_plans FROM pg_prepared_statements"
    )
    return cursor.fetchall()


def _rows(database, run_id):
    jobs = database.execute_sql(
        "SELECT count(*) FROM workflow_jobs WHERE run_id = %s AND status = 'completed'", [run_id]
    ).fetchone()[0]
    runs = database.execute_sql(
        "SELECT count(*) FROM workflows WHERE run_id = %s AND pr_id IS NOT NULL", [run_id]
    ).fetchone()[0]
    return runs, jobs


def test_statements_are_prepared_once_and_executed_after(direct, caplog):
    client = direct.test_client()
    with caplog.at_level(logging.WARNING, "prmonitor.storage.db"):
        assert set(_deliver_run(client, 9100000001)) == {"processed"}
        assert set(_deliver_run(client, 9100000002)) == {"processed"}
    database = db.database.obj
    with database.connection_context():
        prepared = _prepared_statements(database)
        assert _rows(database, 9100000001) == (1, 3)
        assert _rows(database, 9100000002) == (1, 3)

    def executions(start):
        return [n for name, sent, n in prepared if f"PREPARE {name} AS {start}" in sent]

    # One statement each, run by each of the 22 deliveries' claims, the 18 jobs' upserts.
    assert executions("WITH claimed AS (INSERT INTO deliveries") == [22]
    assert executions("INSERT INTO workflow_jobs") == [18]
    assert not [r for r in caplog.records if GIVE_UP in r.getMessage()]


def test_a_duplicate_among_a_connections_first_statements_keeps_them_prepared(direct, caplog):
    """The claim of a redelivery fails its round trip (deliveries.claim_with_next_statement)
    after the PREPAREs in front of it ran: they are known as made, not made again."""
    client = direct.test_client()
    payload = job_event("completed", id=7, run_id=9100000003)
    assert signed_post(client, "workflow_job", payload, delivery_id="d-1").status_code == 200
    db.database.obj.close_all()  # the next delivery runs on a new connection
    with caplog.at_level(logging.WARNING, "prmonitor.storage.db"):
        again = signed_post(client, "workflow_job", payload, delivery_id="d-1")
        assert again.get_json()["outcome"] == "duplicate"
        assert set(_deliver_run(client, 9100000003)) == {"processed"}
    assert not [r for r in caplog.records if GIVE_UP in r.getMessage()]
    database = db.database.obj
    with database.connection_context():
        claims = [
            n
            for name, sent, n in _prepared_statements(database)
            if f"PREPARE {name} AS WITH claimed AS (INSERT INTO deliveries" in sent
        ]
    assert claims == [1 + 11]  # the duplicate's, then the run's 11 deliveries


def test_a_schema_change_under_a_running_process_makes_its_statements_again(direct, caplog):
    """A migration that changes a column a prepared statement returns fails its next EXECUTE
    ("cached plan must not change result type"): the delivery is retried, and the
    connection's statements are made again."""
    client = direct.test_client()
    assert set(_deliver_run(client, 9100000004, jobs=1)) == {"processed"}
    database = db.database.obj
    with database.connection_context():  # the connection the deliveries used
        database.execute_sql("ALTER TABLE workflows ALTER COLUMN status TYPE text")
    with caplog.at_level(logging.WARNING, "prmonitor.storage.db"):
        assert set(_deliver_run(client, 9100000005, jobs=1)) == {"processed"}
    assert not [r for r in caplog.records if GIVE_UP in r.getMessage()]
    with database.connection_context():
        assert _rows(database, 9100000005) == (1, 1)
        remade = [n for name, sent, n in _prepared_statements(database) if "DEALLOCATE" in sent]
    assert remade and all(n >= 1 for n in remade)


# -- behind PgBouncer in transaction mode ------------------------------------------------------


def _write_config(directory, port, database):
    server = psycopg2.extensions.parse_dsn(os.environ["TEST_DATABASE_URL"])
    (directory / "users.txt").write_text(f'"{server.get("user", "postgres")}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"prmonitor = host={server.get('host', '127.0.0.1')} port={server.get('port', 5432)} "
        f"dbname={database} user={server.get('user', 'postgres')}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {directory}/users.txt\n"
        # Heroku's connection pooling: PgBouncer in transaction mode, which lends a client
        # the server session released last, for one transaction.
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 50\n"
    )
    for path in (directory, *directory.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture
def pooled():
    """The app on a database of its own, through PgBouncer in transaction mode."""
    if not Path(PGBOUNCER).exists():
        pytest.skip("needs Debian's pgbouncer")
    database = f"t_pgb_{uuid.uuid4().hex[:10]}"
    postgres_admin(f"CREATE DATABASE {database}")
    directory = Path(tempfile.mkdtemp(prefix="prmonitor-pgbouncer-"))
    port = free_port()
    _write_config(directory, port, database)
    # PgBouncer refuses to run as root: as the server's own user then.
    user = ["-u", "postgres"] if os.geteuid() == 0 else []
    log = (directory / "pgbouncer.log").open("wb")  # its stderr, which stays ours
    bouncer = subprocess.Popen([PGBOUNCER, *user, str(directory / "pgbouncer.ini")], stderr=log)
    url = f"postgresql://postgres@127.0.0.1:{port}/prmonitor"
    try:
        _wait_for(url, bouncer, directory)
        yield _app(url)
        db.database.obj.close_all()
    finally:
        bouncer.terminate()
        bouncer.wait(10)
        log.close()
        postgres_admin(f"DROP DATABASE {database} WITH (FORCE)")
        shutil.rmtree(directory, ignore_errors=True)


def _wait_for(url, bouncer, directory, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg2.connect(url, connect_timeout=2).close()
            return
        except psycopg2.OperationalError:
            log = directory / "pgbouncer.log"
            if bouncer.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"pgbouncer did not start: {log.read_text() if log.exists() else ''}"
                ) from None
            time.sleep(0.1)


def test_behind_a_transaction_pooler_deliveries_land_as_plain_statements(pooled, caplog):
    """The app prepares its statements on the one server session PgBouncer lends it, one
    transaction at a time. Another client then holds that session in a transaction, so the
    app's next one runs on a new session, without them."""
    client = pooled.test_client()
    url = pooled.config["PRMONITOR"].database_url
    with caplog.at_level(logging.INFO, "prmonitor"):
        first = _deliver_run(client, 9100000011)
        other = psycopg2.connect(url)
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_prepared_statements")
                assert cursor.fetchone()[0] > 0  # the session the app prepared on
                second = _deliver_run(client, 9100000012)
        finally:
            other.close()
        third = _deliver_run(client, 9100000013)
    assert set(first + second + third) == {"processed"}
    database = db.database.obj
    with database.connection_context():
        for run_id in (9100000011, 9100000012, 9100000013):
            assert _rows(database, run_id) == (1, 3)
        claimed = database.execute_sql("SELECT count(*) FROM deliveries").fetchone()[0]
    assert claimed == len(first + second + third)
    said = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [GIVE_UP in r.getMessage() for r in said] == [True]  # once, then plain statements


def test_behind_a_transaction_pooler_a_new_connection_finds_its_statements_made(pooled, caplog):
    """PgBouncer keeps its server sessions when a client goes (a restarted dyno): the new
    client's PREPARE finds the statement there already (42P05)."""
    client = pooled.test_client()
    with caplog.at_level(logging.INFO, "prmonitor"):
        first = _deliver_run(client, 9100000021)
        db.database.obj.close_all()  # as a restarted process: new connections to PgBouncer
        second = _deliver_run(client, 9100000022)
    assert set(first + second) == {"processed"}
    database = db.database.obj
    with database.connection_context():
        assert _rows(database, 9100000022) == (1, 3)
    said = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [GIVE_UP in r.getMessage() for r in said] == [True]
    assert "already exists" in said[0].getMessage()


def test_behind_a_transaction_pooler_a_statement_outside_a_transaction_is_sent_again(pooled):
    """Outside a transaction (the poller's and the CLI's reads) a statement whose prepared
    form went missing ran nothing: it is sent again as text, and answers."""
    client = pooled.test_client()
    assert set(_deliver_run(client, 9100000031, jobs=1)) == {"processed"}
    database = db.database.obj
    url = pooled.config["PRMONITOR"].database_url
    with database.connection_context():
        assert database.execute_prepared("SELECT %s::int + 1", [1]).fetchone() == (2,)
        other = psycopg2.connect(url)
        try:
            with other.cursor() as cursor:  # holds the session the app prepared on
                cursor.execute("SELECT count(*) FROM pg_prepared_statements")
                assert cursor.fetchone()[0] > 0
                answer = database.execute_prepared("SELECT %s::int + 1", [41]).fetchone()
        finally:
            other.close()
    assert answer == (42,)
