"""The database: a proxy bound from DATABASE_URL, per-request connections, and migrate()."""

import logging
import os
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.migrations import Runner
from playhouse.pool import PooledPostgresqlDatabase

log = logging.getLogger(__name__)

database = DatabaseProxy()

# WAL lets readers proceed beside one writer; IMMEDIATE transactions take the write lock at BEGIN,
# so two processes never both read and then fail to upgrade to a write ("database is locked").
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 3000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


def open_database(url):
    """A peewee Database for DATABASE_URL (sqlite:///path, postgres:// or postgresql://)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _sqlite(parts)
    return _postgres(parts)


def _sqlite(parts):
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")


def _postgres(parts):
    # Each process keeps a few open connections: connecting to Postgres costs milliseconds, which
    # is most of the time a webhook delivery takes. Query parameters pass through to libpq.
    options = dict(parse_qsl(parts.query))
    kwargs = {
        "host": parts.hostname,
        "port": parts.port,
        "user": parts.username,
        "password": parts.password,
        "connect_timeout": 10,
        **options,
    }
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    name = parts.path.lstrip("/")
    return PooledPostgresqlDatabase(name, max_connections=20, stale_timeout=300, **kwargs)


def bind(url):
    """Point the shared proxy at DATABASE_URL; returns the real database."""
    db = open_database(url)
    database.initialize(db)
    return db


def migrations_dir():
    """migrations/ beside the package (a checkout or editable install), else in the working dir."""
    beside = Path(__file__).resolve().parent.parent / "migrations"
    return beside if beside.is_dir() else Path(os.getcwd()) / "migrations"


def migrate(db=None):
    """Apply pending numbered migrations in order; returns the names applied (none on a rerun)."""
    db = db or database.obj
    with db.connection_context():
        applied = Runner(db, str(migrations_dir())).up()
    for name in applied:
        log.info("migration applied name=%s", name)
    return applied


def is_postgres(db=None):
    return isinstance(db or database.obj, PostgresqlDatabase)
