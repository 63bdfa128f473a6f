"""SQLite's WAL is checkpointed by the writers after their turn on the file lock, not inside
it, and stays bounded while writers never pause (storage.db.SqliteFile)."""

import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from peewee import DatabaseError

from prmonitor.storage import db
from prmonitor.storage.db import SqliteFile
from prmonitor.storage.models import Delivery


@pytest.fixture
def sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/pr_tracking.db"
    database = db.bind(url)
    db.migrate(database)
    database.connect(reuse_if_open=True)
    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the tables, in the file
    yield database
    database.close_all()


def write(count):
    for _ in range(count):
        with db.writing():
            Delivery.create(delivery_id=str(uuid.uuid4()), event="ping", outcome="processed")


def checkpointed_rows(database, tmp_path):
    """Rows in the database file itself: a copy of it without its WAL sees only what a
    checkpoint has copied there."""
    copy = tmp_path / "copy.db"
    shutil.copyfile(database.database, copy)
    with sqlite3.connect(copy) as conn:
        return conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]


def lock_is_free(database):
    """Whether another writer could take its turn now (a new open file, so a lock of its own)."""
    fd = os.open(f"{database.database}.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases the lock if it was taken
    return True


@pytest.fixture
def checkpoints(sqlite, monkeypatch):
    """(whether the file lock was free, pages in the WAL) for every checkpoint writers run."""
    seen = []
    execute = SqliteFile.execute_sql

    def spy(self, sql, *args, **kwargs):
        cursor = execute(self, sql, *args, **kwargs)
        if sql.startswith("PRAGMA wal_checkpoint"):
            rows = cursor.fetchall()
            seen.append((lock_is_free(self), rows[0][1]))
            cursor = FakeCursor(rows)
        return cursor

    monkeypatch.setattr(SqliteFile, "execute_sql", spy)
    return seen


class FakeCursor:
    """The checkpoint's result row, already read by the spy."""

    def __init__(self, rows):
        self.rows = rows

    def fetchone(self):
        return self.rows[0]


def test_sqlite_does_not_checkpoint_inside_a_commit(sqlite, tmp_path):
    sqlite.CHECKPOINT_EVERY = 10**6
    write(600)  # past the 1,000 pages at which SQLite would checkpoint by itself
    assert checkpointed_rows(sqlite, tmp_path) == 0


def test_a_writer_checkpoints_every_so_many_commits(sqlite, tmp_path):
    sqlite.CHECKPOINT_EVERY = 5
    write(4)
    assert checkpointed_rows(sqlite, tmp_path) == 0
    write(1)
    assert checkpointed_rows(sqlite, tmp_path) == 5
    write(4)
    assert checkpointed_rows(sqlite, tmp_path) == 5


def test_the_checkpoint_runs_after_the_writers_turn(sqlite, checkpoints):
    sqlite.CHECKPOINT_EVERY = 3
    write(9)
    assert [free for free, _ in checkpoints] == [True, True, True]


def test_past_the_limit_the_next_writer_checkpoints_in_its_turn(sqlite, checkpoints):
    sqlite.CHECKPOINT_EVERY = 3
    sqlite.WAL_LIMIT = 0  # any WAL is past it
    write(3)
    sqlite.WAL_LIMIT = 10**6
    write(3)
    # The fourth commit's writer copied the rest in its turn, where nobody else writes
    # meanwhile; then the usual one, after the sixth.
    assert [free for free, _ in checkpoints] == [True, False, True]


def test_pages_a_reader_still_needs_are_left_to_the_next_periodic_checkpoint(sqlite, checkpoints):
    sqlite.CHECKPOINT_EVERY = 3
    sqlite.WAL_LIMIT = 0
    write(3)
    sqlite.WAL_LIMIT = 10**6
    reader = sqlite3.connect(sqlite.database)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM deliveries").fetchone()  # holds the WAL as it was
    write(2)  # the fourth's checkpoint cannot copy its own pages: the reader may need them
    reader.rollback()
    reader.close()
    write(1)
    # Tried in the fourth turn only, not in every turn while the reader reads; then the
    # usual one after the sixth commit.
    assert [free for free, _ in checkpoints] == [True, False, True]


def test_a_wal_grown_behind_a_reader_is_cut_back_once_it_starts_over(sqlite):
    wal = f"{sqlite.database}-wal"
    limit = db.SQLITE_PRAGMAS["journal_size_limit"]
    reader = sqlite3.connect(sqlite.database)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM deliveries").fetchone()  # holds the WAL as it was
    blob = "x" * (1 << 20)
    for _ in range(limit // len(blob) + 8):
        with db.writing():
            Delivery.create(
                delivery_id=str(uuid.uuid4()), event="ping", outcome="processed", error=blob
            )
    assert os.path.getsize(wal) > limit
    reader.rollback()
    reader.close()
    write(sqlite.CHECKPOINT_EVERY)  # a periodic checkpoint copies all of it
    write(1)  # and the next writer starts it over
    assert 0 < os.path.getsize(wal) <= limit


SHM_CHECKPOINTER_LOCK = 121  # byte of the -shm file a checkpoint locks (SQLite's WAL_CKPT_LOCK)

HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))
    print("held", flush=True)
    sys.stdin.read()
    """
)


def test_a_checkpoint_in_a_turn_is_tried_again_while_another_one_runs(sqlite, checkpoints):
    sqlite.CHECKPOINT_EVERY = 3
    sqlite.WAL_LIMIT = 0
    write(3)
    sqlite.WAL_LIMIT = 10**6
    # Another process checkpointing, as SQLite sees it: its lock on the checkpointer's byte.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"{sqlite.database}-shm", str(SHM_CHECKPOINTER_LOCK)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        write(2)
    finally:
        holder.communicate(b"")
    write(1)
    # The fourth and fifth turns found it busy (SQLite answers -1 pages), the sixth copied it.
    assert [free for free, _ in checkpoints] == [True, False, False, False, True]
    assert [pages for _, pages in checkpoints[1:3]] == [-1, -1]


def test_a_failed_checkpoint_leaves_the_commit_standing(sqlite, monkeypatch, caplog):
    sqlite.CHECKPOINT_EVERY = 1
    execute = SqliteFile.execute_sql

    def failing(self, sql, *args, **kwargs):
        if sql.startswith("PRAGMA wal_checkpoint"):
            raise DatabaseError("database disk image is malformed")
        return execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(SqliteFile, "execute_sql", failing)
    write(2)
    assert Delivery.select().count() == 2
    assert "sqlite checkpoint failed: database disk image is malformed" in caplog.text


WRITER = textwrap.dedent(
    """
    import sys, time, uuid
    from prmonitor.storage import db
    from prmonitor.storage.models import Delivery
    database = db.bind(sys.argv[1])
    database.CHECKPOINT_EVERY, database.WAL_LIMIT = 5, 100
    database.connect()
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        with db.writing():
            Delivery.create(delivery_id=str(uuid.uuid4()), event="ping", outcome="processed")
    """
)


def test_the_wal_stays_bounded_while_writers_never_pause(sqlite, tmp_path):
    url = f"sqlite:///{sqlite.database}"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, "3"], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    wal, largest = f"{sqlite.database}-wal", 0
    while any(writer.poll() is None for writer in writers):
        if os.path.exists(wal):
            largest = max(largest, os.path.getsize(wal))
        time.sleep(0.01)
    for writer in writers:
        _, errors = writer.communicate()
        assert writer.returncode == 0, errors.decode()
    written = Delivery.select().count()
    assert written > 1000
    # A few hundred pages, about 1,200 on a loaded machine (where the checkpoints in a turn
    # more often find another process's running): WAL_LIMIT, and what the writers add before
    # one of them copies the rest in its turn. Checkpoints beside the writers alone, which
    # never copy the whole WAL while they write, let it grow by every commit (40,000 to
    # 67,000 pages in 3 s here, 9,600 on a loaded machine).
    pages = largest / 4096
    assert pages < 3000, (pages, written)
