"""The database layer: write transactions commit or roll back whole, on both backends."""

import pytest
from peewee import DatabaseError

from prmonitor.storage import db
from prmonitor.storage.models import Delivery


def add(delivery_id):
    Delivery.create(delivery_id=delivery_id, event="ping", outcome="processed")


def test_a_write_transaction_commits_whole(database):
    with db.writing():
        add("a")
        add("b")
    assert Delivery.select().count() == 2


def test_a_failure_rolls_back_every_statement_before_it(database):
    with pytest.raises(RuntimeError), db.writing():
        add("a")
        raise RuntimeError("handler failed")
    assert Delivery.select().count() == 0


def test_a_failing_first_statement_leaves_the_connection_usable(database):
    with pytest.raises(DatabaseError), db.writing():
        database.execute_sql("SELECT * FROM no_such_table")
    with db.writing():
        add("after")
    assert [d.delivery_id for d in Delivery.select()] == ["after"]


def test_an_empty_transaction_is_fine(database):
    with db.writing():
        pass
    with db.writing():
        add("x")
    assert Delivery.select().count() == 1


def test_nested_writing_is_a_savepoint(database):
    with db.writing():
        add("outer")
        with pytest.raises(RuntimeError), db.writing():
            add("inner")
            raise RuntimeError("inner failed")
    assert [d.delivery_id for d in Delivery.select()] == ["outer"]


INSERT = "INSERT INTO deliveries (delivery_id, event, outcome, received_at, attempts) " + (
    "VALUES ({p}, 'ping', 'processed', '2026-11-20 10:00:00', 1)"
)


def test_a_deferred_statement_runs_before_the_next_or_with_the_commit(database):
    insert = INSERT.format(p=database.param)
    with db.writing():
        db.defer(insert, ["first"])
        # It reaches the server ahead of the statement that follows it...
        assert Delivery.select().where(Delivery.delivery_id == "first").count() == 1
        db.defer(insert, ["last"])  # ...or with the COMMIT
    assert sorted(d.delivery_id for d in Delivery.select()) == ["first", "last"]


def test_a_failing_deferred_statement_rolls_the_transaction_back(database):
    insert = INSERT.format(p=database.param)
    with pytest.raises(DatabaseError), db.writing():
        add("kept?")
        db.defer(insert, ["kept?"])  # a duplicate key, found at COMMIT time on Postgres
    assert Delivery.select().count() == 0
    with db.writing():
        add("after")
    assert [d.delivery_id for d in Delivery.select()] == ["after"]


def test_commit_without_waiting_for_disk_is_this_transactions_only(database):
    if not db.is_postgres():
        pytest.skip("a Postgres setting")
    from prmonitor.storage import deliveries

    def setting():
        return database.execute_sql("SHOW synchronous_commit").fetchone()[0]

    with db.writing():
        deliveries.commit_without_waiting_for_disk()
        assert setting() == "off"
        add("a")
    assert setting() == "on" and Delivery.select().count() == 1


def test_a_savepoint_rolled_back_takes_its_deferred_statements_with_it(database):
    insert = INSERT.format(p=database.param)
    with db.writing():
        add("outer")
        with pytest.raises(RuntimeError), db.writing():
            db.defer(insert, ["inner"])
            if db.is_postgres():
                db.defer(insert, ["outer"])  # would fail the rollback, were it sent
            raise RuntimeError("inner failed")
        add("after")
    assert sorted(d.delivery_id for d in Delivery.select()) == ["after", "outer"]
