"""Plain SQL for the statements every delivery makes, rendered once and cached.

Rendering a query with peewee costs about 0.2 ms, more than running it: the statements every
delivery makes are plain SQL, rendered once per column set and backend. ON CONFLICT ... DO
UPDATE ... WHERE and RETURNING read the same on SQLite (>= 3.35) and Postgres.
"""

import datetime

from peewee import SqliteDatabase

from prmonitor.storage import db

_rendered = {}


def execute(key, render, values, deferred=False):
    """Run the statement `render(param)` made for `key`, rendering it only the first time;
    `deferred`: nobody reads its result, so on Postgres it goes with the next round trip."""
    param = db.database.param
    sql = _rendered.get((key, param))
    if sql is None:
        sql = _rendered[(key, param)] = render(param)
    database = db.database.obj
    if isinstance(database, db.Postgres):
        # Prepared once per connection: Postgres plans it once (db.Postgres.execute_prepared).
        return database.execute_prepared(sql, values, deferred)
    if isinstance(database, SqliteDatabase):
        # The one stored time format (SQLite compares times as text): see models.utcnow.
        values = [v.isoformat(" ") if isinstance(v, datetime.datetime) else v for v in values]
    if deferred:
        return db.defer(sql, values)
    return database.execute_sql(sql, values)


def read_time(value):
    """A time a plain SQL statement read back: SQLite gives the stored text (see execute),
    Postgres a datetime."""
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    return value


def insert_sql(table, columns, conflict, action="DO NOTHING", returning=""):
    """A render function for INSERT ... ON CONFLICT (conflict) action; see execute."""

    def render(param):
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join([param] * len(columns))}) "
            f"ON CONFLICT ({conflict}) {action}{returning}"
        )

    return render


def upsert_sql(table, columns, conflict, updates, where, returning=""):
    """A render function for INSERT ... ON CONFLICT DO UPDATE SET updates WHERE where."""
    action = f"DO UPDATE SET {', '.join(updates)} WHERE {where}"
    return insert_sql(table, columns, conflict, action, returning)


def with_defaults(model, row):
    """The row with the model's Python-side defaults (prs.created_at, prs.tracking, ...) for the
    columns it lacks: a plain INSERT does not apply them as Model.insert() does."""
    filled = {
        field.column_name: default() if callable(default) else default
        for field, default in model._meta.defaults.items()
        if field.column_name not in row
    }
    return {**filled, **row}
