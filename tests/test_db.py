"""The database layer: write transactions commit or roll back whole, on both backends."""

import pytest
from peewee import DatabaseError

from prmonitor import db
from prmonitor.models import Delivery


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
