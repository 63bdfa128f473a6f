"""The database: a proxy bound from DATABASE_URL, per-request connections, and migrate()."""

import fcntl
import functools
import hashlib
import logging
import os
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from peewee import DatabaseProxy, OperationalError, PeeweeException, PostgresqlDatabase
from playhouse import db_url
from playhouse.migrations import Runner
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

log = logging.getLogger(__name__)

database = DatabaseProxy()

# WAL lets readers proceed beside one writer; IMMEDIATE transactions take the write lock at BEGIN,
# so two processes never both read and then fail to upgrade to a write ("database is locked").
# synchronous=normal, what SQLite recommends with WAL: a committed delivery survives any crash of
# the process; a power cut can lose the last commits (not corrupt the file): those since the WAL
# was last synced, which happens at each checkpoint, so at most about CHECKPOINT_EVERY commits
# of each process (see SqliteFile). full would fsync on every commit, under the write lock: 0.37
# instead of 0.49 of the ceiling in bench/ingest.py. Production runs on Postgres.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 2000,
    "foreign_keys": 1,
    "synchronous": "normal",
    # Writers checkpoint the WAL themselves, after their turn (see SqliteFile).
    "wal_autocheckpoint": 0,
    # SQLite reuses a WAL's file when it starts over, at whatever size it once grew to: behind
    # a long reader (a backup, a slow page over a large history) that can be gigabytes, kept
    # on disk for as long as the service runs. Past this size it is cut back when it starts
    # over; below it the file is reused, as SQLite prefers (4x SqliteFile.WAL_LIMIT).
    # https://sqlite.org/pragma.html#pragma_journal_size_limit
    "journal_size_limit": 64 * 1024 * 1024,
}


class SqliteFile(PooledSqliteDatabase):
    """SQLite whose writers take turns on a file lock before BEGIN IMMEDIATE.

    A writer that finds the database locked sleeps in SQLite's busy handler (1, 2, 5, 10 ms...
    between tries) although the lock is held for well under a millisecond; waiting on a file lock
    instead wakes it the moment the holder commits. Threads of one process take turns on a
    threading lock first, since a flock is shared by all of a process's threads.
    """

    # The WAL's checkpoint (copying committed pages into the database file, with an fsync of
    # each) is the writers' job, but not in their turn. SQLite's own, after every 1,000 pages,
    # runs inside the COMMIT that crossed the mark, so inside the file lock: every other
    # writer waited for its fsyncs (synchronous=off, which has none, took 1,674 deliveries/s
    # against 1,347 in one run of bench/push.py). So automatic checkpoints are off (see
    # SQLITE_PRAGMAS), and every CHECKPOINT_EVERY commits a process's writer runs a PASSIVE
    # one after its turn: SQLite lets it run beside the next writer
    # (https://sqlite.org/wal.html#checkpointing); 1,364 deliveries/s against 1,187 in one
    # run. But the WAL starts over from its beginning only when a writer begins after a
    # checkpoint copied all of it, and while writers never pause the next one has always
    # begun before the checkpoint beside it ends (the WAL grew by 40,000 pages in 3 s in
    # tests/storage/test_sqlite_checkpoint.py). So when a checkpoint finds the WAL past
    # WAL_LIMIT pages, the next writer copies the rest in its turn (the few milliseconds of
    # commits since), with nobody writing, and the writer after it starts the WAL over.
    CHECKPOINT_EVERY = 100  # commits of this process (a delivery writes about 9 pages)
    WAL_LIMIT = 4000  # pages (16 MB at SQLite's 4 KB page)

    def __init__(self, path, *args, **kwargs):
        super().__init__(path, *args, **kwargs)
        self._lock_path = None if path == ":memory:" else f"{path}.lock"
        self._thread_lock = threading.Lock()
        self._lock_fd = None
        self._lock_pid = None
        self._commits = 0  # since this process's last checkpoint; under _thread_lock
        self._wal_overgrown = False

    @contextmanager
    def writing(self):
        """One write transaction, after the other writers' (see the class docstring)."""
        if self._lock_path is None or self.in_transaction():
            with self.atomic():  # nested: a savepoint inside the writer's own turn
                yield
            return
        with self._thread_lock:
            fd = self._locked_file()
            try:
                with self.atomic():
                    yield
                checkpoint = self._after_commit()
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        if checkpoint:
            pages = self._checkpoint()
            if pages is not None:  # else another process's was running: nothing changes
                self._wal_overgrown = pages > self.WAL_LIMIT

    def _after_commit(self):
        """In the writer's turn, after its commit: the rest of an overgrown WAL checkpointed now,
        with nobody writing, so that the next writer starts it over; then whether this
        process checkpoints after this turn."""
        if self._wal_overgrown:
            # Again at the next commit while another process's checkpoint runs (SQLite runs
            # one at a time). What a reader still needs is left to the next periodic one:
            # tried at every commit, it would hold every turn for as long as readers read.
            self._wal_overgrown = self._checkpoint() is None
        self._commits += 1
        if self._commits < self.CHECKPOINT_EVERY:
            return False
        self._commits = 0
        return True

    def _checkpoint(self):
        """A PASSIVE checkpoint on this thread's connection: it copies what no reader still
        needs and waits for nobody. The pages in the WAL; None when another connection's
        checkpoint was running; 0 when it failed, or the database keeps no WAL (the commit it
        follows stands, and the next checkpoint copies what this one did not)."""
        try:
            busy, pages, _copied = self.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except PeeweeException as exc:  # peewee's, whatever SQLite raised
            log.warning("sqlite checkpoint failed: %s", describe(exc))
            return 0
        if busy:
            return None
        return max(pages, 0)

    def _locked_file(self):
        try:
            # Opened per process: a descriptor inherited through fork would share its lock.
            if self._lock_pid != os.getpid():
                self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
                self._lock_pid = os.getpid()
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise OperationalError(f"cannot lock {self._lock_path}: {exc.strerror}") from None
        return self._lock_fd


class Postgres(PooledPostgresqlDatabase):
    """Pooled Postgres that checks a connection with a round trip only after it sat idle.

    peewee's pool sends SELECT 1 at every check-out, one more round trip for every delivery.
    A connection given back less than IDLE_CHECK seconds ago is lent as it is (check-in has
    already rolled back anything left open); one idle for longer, which the server or a proxy
    may have dropped meanwhile, is checked first.
    """

    IDLE_CHECK = 10.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._checked_in = {}
        self.preparing = True  # off for good once prepared statements go missing (see below)
        self._prepared = weakref.WeakKeyDictionary()  # connection -> names prepared on it
        self._unsure = weakref.WeakSet()  # connections whose PREPAREs may not all have run
        self._stale = weakref.WeakSet()  # connections whose statements a schema change outdated

    def _close(self, conn, close_conn=False):
        # A connection whose PREPAREs' fate is unknown is not lent again (see execute_sql).
        close_conn = close_conn or conn in self._unsure
        super()._close(conn, close_conn)
        if close_conn:
            self._checked_in.pop(self.conn_key(conn), None)
        else:
            self._checked_in[self.conn_key(conn)] = time.monotonic()

    def begin(self, isolation_level=None):
        # BEGIN travels with the transaction's first statement: one round trip fewer. Connect
        # now if needed: connecting later, inside the transaction, would reset its state.
        """Defer BEGIN to the transaction's first statement."""
        if self.is_closed() and self.autoconnect:
            self.connect()
        self._state.pending_begin = True

    def defer(self, sql, params, plain=None):
        """Send a statement whose result nobody reads with the transaction's next statement, or
        with its COMMIT: one round trip fewer. The server runs them in order; an error it
        raises surfaces there, and the transaction rolls back as usual. (`plain`: the
        statement as text, when `sql` executes it prepared.)"""
        if not self.in_transaction():
            self.execute_sql(sql, params, plain)
            return
        if not getattr(self._state, "deferred", None):
            self._state.deferred = []
        self._state.deferred.append((sql, list(params or ()), plain or sql))

    # -- prepared statements --
    # Postgres parses and plans every statement it is sent as text; a statement prepared once
    # on a connection (PREPARE, then EXECUTE with the values) skips both: a job delivery's
    # claim and upsert cost its server 210 us less CPU of about 1.2 ms. A prepared statement
    # lives as long as the server's session
    # (https://www.postgresql.org/docs/current/sql-prepare.html), which a transaction pooler
    # such as PgBouncer in transaction mode hands to other clients between transactions: an
    # EXECUTE there finds its statement missing (26000) or a PREPARE finds it made (42P05).
    # Then this process stops preparing (see _after_failure). Names are a hash of the
    # statement's text, so that a name found on a session handed over by a pooler is the same
    # statement.

    # SQLSTATEs after which prepared statements are given up: a pooler's (missing, already
    # made) and a PREPARE's own, which a statement sent as text would not raise (a parameter
    # whose type cannot be inferred).
    # https://www.postgresql.org/docs/current/errcodes-appendix.html
    UNPREPARABLE = ("26000", "42P05", "42P18", "42P08")

    def execute_prepared(self, sql, params, deferred=False):
        """Run `sql` (%s placeholders) as a statement prepared on this connection: its PREPARE
        travels with the first round trip that uses it. `deferred` as in defer()."""
        if self.is_closed() and self.autoconnect:
            self.connect()
        conn = self._state.conn
        if not self.preparing or conn is None:
            return self.defer(sql, params) if deferred else self.execute_sql(sql, params)
        name, prepare, call = _prepared_form(sql)
        if getattr(self._state, "to_prepare", None) is None:
            self._state.to_prepare = {}
        known = self._prepared.setdefault(conn, set())
        if conn in self._stale:
            # A schema change outdated them (see _after_failure): made again, after a
            # DEALLOCATE ALL in front of every PREPARE.
            self._stale.discard(conn)
            known.clear()
            self._state.to_prepare = {_DEALLOCATE: _DEALLOCATE, **self._state.to_prepare}
        if name not in known:
            self._state.to_prepare[name] = prepare
        if deferred:
            return self.defer(call, params, sql)
        return self.execute_sql(call, params, sql)

    def execute_sql(self, sql, params=None, plain=None):
        """Run `sql`, preceded by the PREPAREs it and the deferred statements need, a pending
        BEGIN and the deferred statements. (`plain`: `sql` as text, when it executes a
        prepared statement.)"""
        if sql.startswith("ROLLBACK TO SAVEPOINT"):
            # What was deferred since the SAVEPOINT (which sent everything before it) is undone
            # with it: never sent, so it cannot fail the rollback.
            self._state.deferred = []
            self._state.to_prepare = {}
        # PREPAREs first: a failing statement stops the rest of a round trip, so a failure
        # after them leaves them all made. (PREPARE is not undone by a rollback.)
        prepares = getattr(self._state, "to_prepare", None) or {}
        self._state.to_prepare = {}
        begins = getattr(self._state, "pending_begin", False)
        self._state.pending_begin = False
        deferred = getattr(self._state, "deferred", None) or []
        self._state.deferred = []
        if deferred:
            params = [value for _, values, _ in deferred for value in values] + list(params or ())
        head = ["BEGIN"] if begins else []
        before = [*prepares.values(), *head, *(statement for statement, _, _ in deferred)]
        sent = "; ".join([*before, sql]) if before else sql
        conn = self._state.conn
        try:
            cursor = super().execute_sql(sent, params)
        except BaseException as exc:
            if not self._after_failure(exc, conn, prepares, begins):
                raise
            # Nothing of this transaction had run before this round trip (or there is none):
            # the same statements again, as text.
            if begins:  # its BEGIN may have run: the server's transaction is aborted
                with suppress(PeeweeException):
                    super().execute_sql("ROLLBACK")
            text = "; ".join([*head, *(as_text for _, _, as_text in deferred), plain or sql])
            return super().execute_sql(text, params)
        self._made(conn, prepares)
        return cursor

    def _made(self, conn, prepares):
        if prepares:
            self._prepared.setdefault(conn, set()).update(n for n in prepares if n != _DEALLOCATE)

    def _after_failure(self, exc, conn, prepares, began):
        """Bookkeeping after a round trip failed; True when it is to be sent again as text.

        A PREPARE fails only with a class 42 error (the statement's own, or UNPREPARABLE's);
        another error the server raised came after the PREPAREs in front, so they ran. An error
        without a SQLSTATE (the client's, or an interruption) leaves that unknown, and so does
        a class 42 error: such a connection is not lent again. On UNPREPARABLE this process
        stops preparing: the round trip is sent again as text when it began its transaction
        or there is none (nothing else of it ran); otherwise the transaction fails with
        OperationalError, which the receiver retries. On 0A000 ("cached plan must not change
        result type", after a schema change) the connection's statements are made again."""
        code = pgcode(exc) if isinstance(exc, PeeweeException) else ""
        if prepares:
            made = code and not code.startswith("42") and code not in ("25P02", "57014")
            if made:
                self._made(conn, prepares)
            elif conn is not None:
                self._unsure.add(conn)
        if code == "0A000" and conn is not None:
            self._stale.add(conn)
            raise OperationalError(f"prepared statements outdated: {describe(exc)}") from exc
        if code not in self.UNPREPARABLE:
            return False
        if self.preparing:
            log.warning(
                "postgres prepared statements unavailable (%s; a transaction pooler?): "
                "sending plain statements from now on",
                describe(exc),
            )
        self.preparing = False
        if began or not self.in_transaction():
            return True
        raise OperationalError(f"prepared statements unavailable: {describe(exc)}") from exc

    def commit(self):
        """COMMIT, sending the deferred statements with it."""
        if getattr(self._state, "deferred", None):
            self.execute_sql("COMMIT")  # the deferred statements, then COMMIT
        elif not self._unbegun():
            super().commit()

    def rollback(self):
        """ROLLBACK, dropping the deferred statements."""
        self._state.deferred = []
        self._state.to_prepare = {}
        if not self._unbegun():
            super().rollback()

    def _unbegun(self):
        """True when a transaction ends before its BEGIN was sent: there is nothing to end."""
        pending = getattr(self._state, "pending_begin", False)
        self._state.pending_begin = False
        return pending

    def _is_closed(self, conn):
        if conn.closed:
            return True
        checked_in = self._checked_in.get(self.conn_key(conn))
        if checked_in is not None and time.monotonic() - checked_in < self.IDLE_CHECK:
            return False
        return super()._is_closed(conn)


def pgcode(exc):
    """The SQLSTATE of the psycopg2 error behind a peewee exception, or ''."""
    for cause in (exc.__cause__, exc.__context__, *exc.args):
        code = getattr(cause, "pgcode", None)
        if code:
            return code
    return ""


_DEALLOCATE = "DEALLOCATE ALL"


@functools.lru_cache(maxsize=256)
def _prepared_form(sql):
    """(name, PREPARE statement, EXECUTE statement with %s placeholders) of a %s statement."""
    pieces = sql.split("%s")
    count = len(pieces) - 1
    numbered = pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], 1))
    name = "prm_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
    call = f"EXECUTE {name} ({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"
    return name, f"PREPARE {name} AS {numbered}", call


def defer(sql, params):
    """Run a statement whose result nobody reads: on Postgres with the transaction's next
    round trip (Postgres.defer), elsewhere now."""
    db = database.obj
    if isinstance(db, Postgres):
        db.defer(sql, params)
    else:
        db.execute_sql(sql, params)


def writing():
    """A write transaction on the bound database: on SQLite, writers queue on a file lock."""
    db = database.obj
    return db.writing() if isinstance(db, SqliteFile) else db.atomic()


def sqlite_path(url):
    """The file of a sqlite:/// URL (or :memory:), None for another database."""
    if urlsplit(url).scheme != "sqlite":
        return None
    return db_url.parse(url)["database"]


def open_database(url):
    """A peewee Database for DATABASE_URL (sqlite:///path, postgres:// or postgresql://)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if sqlite3.sqlite_version_info < (3, 35):
            # ON CONFLICT ... RETURNING (store.py) arrived in SQLite 3.35 (2021).
            raise OperationalError(f"SQLite {sqlite3.sqlite_version} is too old: 3.35+ needed")
        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Pooled like Postgres: a request still takes a connection and gives it back at
        # teardown, but the pragmas run once per connection, and closing the last connection
        # (which checkpoints the WAL) no longer happens after every delivery.
        return SqliteFile(
            path,
            pragmas=SQLITE_PRAGMAS,
            lock_type="IMMEDIATE",
            max_connections=16,
            stale_timeout=300,
            # The pool lends a connection to one thread at a time, and threads take turns.
            check_same_thread=False,
        )
    # Each process keeps a few connections open: connecting to Postgres costs milliseconds, most
    # of what a delivery takes. Query parameters (sslmode, options, ...) pass through to libpq.
    options = db_url.parse(urlunsplit(parts._replace(scheme="postgresql")))
    return Postgres(
        options.pop("database"),
        max_connections=20,
        stale_timeout=300,
        connect_timeout=10,
        **options,
    )


def init_app(app, url):
    """Bind DATABASE_URL; one connection per request, given back at teardown (to the pool)."""
    bind(url)

    @app.before_request
    def _connect():
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not database.is_closed():
            database.close()


def bind(url):
    """Point the shared proxy at DATABASE_URL; returns the real database."""
    db = open_database(url)
    database.initialize(db)
    return db


def migrations_dir():
    """migrations/ beside the package (a checkout or editable install), else in the working dir."""
    beside = Path(__file__).resolve().parents[2] / "migrations"
    return beside if beside.is_dir() else Path(os.getcwd()) / "migrations"


class MigrationsMissing(RuntimeError):
    """The migrations folder cannot be found."""

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


def describe(exc):
    """One line of what the database said (a deadlock, a busy lock, a missing table), without
    the statement or its values."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def describe_connection_error(exc):
    """Why a database could not be opened, in libpq's or SQLite's words (refused at host and
    port, a database that does not exist, failed authentication): its first line, without
    the password, which neither ever prints."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    # libpq: 'connection to server at "h" (127.0.0.1), port 5432 failed: FATAL:  database ...'
    return " ".join(lines[0].replace("FATAL:  ", "").split())[:300]


def is_postgres(db=None):
    """Whether the bound database (or `db`) is Postgres."""
    return isinstance(db or database.obj, PostgresqlDatabase)
