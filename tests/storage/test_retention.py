"""Deliveries are kept for DELIVERY_RETENTION_DAYS (past GitHub's three-day redelivery window)
and pruned in small batches; the last day's counts are read from an index."""

import datetime

import pytest

from prmonitor.config import Config, ConfigError
from prmonitor.storage import db, deliveries
from prmonitor.storage.models import Delivery, utcnow


def add(count, days_ago, outcome="processed"):
    received = utcnow() - datetime.timedelta(days=days_ago)
    rows = [
        {
            "delivery_id": f"{days_ago}-{outcome}-{n}",
            "event": "ping",
            "outcome": outcome,
            "received_at": received,
        }
        for n in range(count)
    ]
    with db.writing():
        Delivery.insert_many(rows).execute()


def test_old_deliveries_are_pruned_in_batches_and_recent_ones_kept(database):
    add(25, days_ago=30)
    add(5, days_ago=13)
    add(5, days_ago=0)
    assert deliveries.prune(14, batch=10, most=2) == 20  # two batches this call
    assert deliveries.prune(14, batch=10) == 5
    assert deliveries.prune(14, batch=10) == 0
    assert Delivery.select().count() == 10


def test_the_last_day_is_counted_from_an_index(database, client):
    add(3, days_ago=0)
    add(2, days_ago=0, outcome="ignored")
    add(4, days_ago=2)
    assert client.get("/api/status").json["deliveries_last_24h"] == {"processed": 3, "ignored": 2}
    since = utcnow() - datetime.timedelta(hours=24)
    query = Delivery.select(Delivery.outcome).where(Delivery.received_at >= since)
    sql, params = query.sql()
    if db.is_postgres():
        database.execute_sql("SET enable_seqscan = off")  # a tiny table: make the planner say
        plan = " ".join(row[0] for row in database.execute_sql(f"EXPLAIN {sql}", params))
        database.execute_sql("RESET enable_seqscan")
    else:
        plan = " ".join(
            str(row) for row in database.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        )
    assert "deliveries_received_at_outcome" in plan


@pytest.mark.parametrize("value", ["3", "0", "x", "99999"])
def test_a_retention_inside_the_redelivery_window_is_refused(value):
    with pytest.raises(ConfigError, match="DELIVERY_RETENTION_DAYS: must be a number of days"):
        Config.from_env({"DELIVERY_RETENTION_DAYS": value})


def test_the_retention_defaults_to_two_weeks():
    assert Config.from_env({}).delivery_retention_days == 14
    assert Config.from_env({"DELIVERY_RETENTION_DAYS": "30"}).delivery_retention_days == 30
