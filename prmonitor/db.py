"""The database: a proxy bound from DATABASE_URL, per-request connections, and migrate()."""

import logging
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from peewee import DatabaseProxy, PostgresqlDatabase
from playhouse import db_url
from playhouse.migrations import Runner

log = logging.getLogger(__name__)

database = DatabaseProxy()

# WAL lets readers proceed beside one writer; IMMEDIATE transactions take the write lock at BEGIN,
# so two processes never both read and then fail to upgrade to a write ("database is locked").
# synchronous=full: a delivery answered 2xx survives a power cut, not only a process crash.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 2000,
    "foreign_keys": 1,
    "synchronous": "full",
}


def open_database(url):
    """A peewee Database for DATABASE_URL (sqlite:///path, postgres:// or postgresql://)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = db_url.parse(url)["database"]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return db_url.connect(url, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
    # Each process keeps a few connections open: connecting to Postgres costs milliseconds, most
    # of what a delivery takes. Query parameters (sslmode, options, ...) pass through to libpq.
    pooled = urlunsplit(parts._replace(scheme="postgresql+pool"))
    return db_url.connect(pooled, max_connections=20, stale_timeout=300, connect_timeout=10)


def bind(url):
    """Point the shared proxy at DATABASE_URL; returns the real database."""
    db = open_database(url)
    database.initialize(db)
    return db


def migrations_dir():
    """migrations/ beside the package (a checkout or editable install), else in the working dir."""
    beside = Path(__file__).resolve().parent.parent / "migrations"
    return beside if beside.is_dir() else Path(os.getcwd()) / "migrations"


class MigrationsMissing(RuntimeError):
    pass


def migrate(db=None):
    """Apply pending numbered migrations in order; returns the names applied (none on a rerun)."""
    db = db or database.obj
    directory = migrations_dir()
    if not any(directory.glob("[0-9]*.py")):
        raise MigrationsMissing(f"no migrations in {directory}: run from the prmonitor checkout")
    with db.connection_context():
        applied = Runner(db, str(directory)).up()
    for name in applied:
        log.info("migration applied name=%s", name)
    return applied


def is_postgres(db=None):
    return isinstance(db or database.obj, PostgresqlDatabase)
