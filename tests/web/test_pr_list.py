"""GET /api/prs: filtered by repository and state, a page at a time, 400 for bad parameters."""

import datetime
import logging

import pytest
from playhouse.migrations import Runner

from prmonitor import create_app
from prmonitor.storage import db
from prmonitor.storage.models import EPOCH, Pr, Workflow

from ..events import run_event
from ..helpers import make_config

T0 = datetime.datetime(2026, 11, 1)


@pytest.fixture
def prs(database):
    """25 PRs in two repositories: every third closed, one of unknown time, ties in time."""
    for number in range(1, 26):
        Pr.create(
            pr_number=number,
            repo_full_name="acme/widgets" if number % 2 else "acme/gadgets",
            state="closed" if number % 3 == 0 else "open",
            updated_at=None if number == 5 else T0 + datetime.timedelta(minutes=number % 7),
        )


def numbers(response):
    assert response.status_code == 200, response.json
    return [pr["pr_number"] for pr in response.json["prs"]]


def test_pages_follow_each_other_without_gaps_or_repeats(client, prs):
    whole = numbers(client.get("/api/prs"))
    assert len(whole) == 25 and client.get("/api/prs").json["next"] is None
    paged, after = [], None
    while True:
        query = {"limit": 4, **({"after": after} if after else {})}
        response = client.get("/api/prs", query_string=query)
        paged += numbers(response)
        after = response.json["next"]
        if after is None:
            break
    assert paged == whole
    states = [pr["state"] for pr in client.get("/api/prs").json["prs"]]
    assert states == sorted(states, key=lambda state: state != "open")  # open first


def test_filters_by_repository_and_state(client, prs):
    widgets = numbers(client.get("/api/prs?repo=acme/widgets"))
    assert sorted(widgets) == list(range(1, 26, 2))
    assert numbers(client.get("/api/prs?repo=ACME/Widgets")) == widgets
    closed = numbers(client.get("/api/prs?state=closed&repo=acme/gadgets"))
    assert sorted(closed) == [6, 12, 18, 24]
    assert numbers(client.get("/api/prs?repo=nobody/here")) == []


@pytest.mark.parametrize(
    "query,message",
    [
        ("repo=garbage", "repo must look like owner/name"),
        ("repo=a/b/c", "repo must look like owner/name"),
        ("state=draft", "state must be one of open, closed, merged"),
        ("limit=0", "limit must be a whole number from 1 to 500"),
        ("limit=501", "limit must be a whole number from 1 to 500"),
        ("after=yesterday", "after must be the `next` of the previous page"),
        ("after=1.999999999999.1", "after must be the `next` of the previous page"),
    ],
)
def test_bad_parameters_are_400(client, prs, query, message):
    response = client.get(f"/api/prs?{query}")
    assert (response.status_code, response.json["error"]) == (400, message)


def test_a_number_past_the_stored_range_names_the_bound(client):
    response = client.get("/api/prs/2147483648/workflows")
    assert response.status_code == 400
    assert (
        response.json["error"]
        == "pull request number must be a whole number from 1 to 2,147,483,647"
    )


# -- the keyset of migration 0006: the same pages as before, each read from an index ----------


def _expected(state=None):
    """The number of each PR (of `state`) in the list's order: open first, then by time
    (unknown: the epoch), then by id; as the list was ordered before migration 0006."""
    prs = [pr for pr in Pr.select() if state in (None, pr.state)]
    in_order = sorted(prs, key=lambda pr: (pr.state == "open", pr.updated_at or EPOCH, pr.id))
    return [pr.pr_number for pr in reversed(in_order)]


def _paged(client, limit, **query):
    """Every page's numbers, following `next` (a cursor that led back would stop it)."""
    paged, after = [], None
    for _ in range(Pr.select().count() + 1):
        page = {**query, "limit": limit, **({"after": after} if after else {})}
        response = client.get("/api/prs", query_string=page)
        paged += numbers(response)
        after = response.json["next"]
        if after is None:
            return paged
    raise AssertionError(f"more pages than PRs: {paged}")


@pytest.fixture
def mixed(prs, database):
    """Beside `prs`: merged PRs, PRs of unknown state (rows from before the App), and PRs at the
    epoch and of unknown time, in both parts, with ties in time on each side of the boundary."""
    for number, state, updated_at in (
        (101, "merged", T0 + datetime.timedelta(minutes=3)),
        (102, None, T0 + datetime.timedelta(minutes=3)),
        (103, None, None),
        (104, "closed", EPOCH),
        (105, "open", EPOCH),
        (106, "merged", None),
        (107, "open", T0 + datetime.timedelta(minutes=6)),
    ):
        Pr.create(
            pr_number=number, repo_full_name="acme/widgets", state=state, updated_at=updated_at
        )


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8, 13, 40])
def test_pages_across_the_open_and_closed_parts_keep_the_order(client, mixed, database, limit):
    expected = _expected()
    assert numbers(client.get("/api/prs")) == expected
    assert _paged(client, limit) == expected
    widgets = [n for n in expected if n % 2 or n > 100]
    assert _paged(client, limit, repo="acme/widgets") == widgets
    for state in ("open", "closed", "merged"):
        assert _paged(client, limit, state=state) == _expected(state)


def test_a_cursor_among_the_closed_prs_skips_every_open_one(client, mixed, database):
    rest = _expected()[len(_expected("open")) :]
    assert numbers(client.get("/api/prs?after=0.9999999999.999999999999")) == rest
    # Its next page starts after the cursor's row, still among the closed ones.
    first = client.get("/api/prs?after=0.9999999999.999999999999&limit=3").json
    assert numbers(client.get(f"/api/prs?after={first['next']}")) == rest[3:]
    assert numbers(client.get("/api/prs?after=0.9999999999.999999999999&state=open")) == []


def test_a_pr_known_from_a_run_hint_is_paged_once_with_its_time_unknown(
    client, deliver, prs, database
):
    assert deliver("workflow_run", run_event("completed", repo="acme/hinted")).status_code == 200
    hinted = Pr.get(Pr.repo_full_name == "acme/hinted")
    assert hinted.updated_at == EPOCH  # never NULL: the keyset orders by it
    expected = _expected()  # each PR once: #17 of acme/widgets, and #17 of acme/hinted
    assert expected.count(hinted.pr_number) == 2
    for limit in (1, 4, 7):
        assert _paged(client, limit) == expected
    (listed,) = client.get("/api/prs?repo=acme/hinted").json["prs"]
    assert (listed["state"], listed["updated_at"]) == ("open", None)  # null, as before


def test_a_repository_is_found_by_any_casing_of_its_name(client, prs, database):
    for number in range(1, 6):
        Pr.create(pr_number=number, repo_full_name="Acme/Gizmos", state="open", updated_at=T0)
    expected = [5, 4, 3, 2, 1]
    for name in ("Acme/Gizmos", "acme/gizmos", "ACME/GIZMOS"):
        assert numbers(client.get(f"/api/prs?repo={name}")) == expected
        assert _paged(client, 2, repo=name) == expected
    assert _paged(client, 2, repo="acme/GADGETS") == numbers(
        client.get("/api/prs?repo=acme/gadgets")
    )


def test_a_pr_route_takes_the_exact_name_first_then_any_casing(client, database):
    lower = Pr.create(pr_number=7, repo_full_name="acme/widgets", state="open", updated_at=T0)
    Pr.create(pr_number=7, repo_full_name="Acme/Widgets", state="open", updated_at=T0)
    Pr.create(pr_number=8, repo_full_name="Acme/Gizmos", state="open", updated_at=T0)
    Workflow.create(pr=lower, run_id=1, repo_full_name="acme/widgets", workflow_name="CI")

    def runs(path):
        response = client.get(path)
        assert response.status_code == 200, response.json
        return [run["workflow_name"] for run in response.json["workflows"]]

    assert runs("/api/prs/7/workflows?repo=acme/widgets") == ["CI"]
    assert runs("/api/repos/Acme/Widgets/prs/7/workflows") == []
    assert runs("/api/prs/8/workflows?repo=acme/GIZMOS") == []
    response = client.get("/api/prs/7/workflows?repo=ACME/WIDGETS")
    assert response.status_code == 409
    assert "Acme/Widgets" in response.json["error"] and "acme/widgets" in response.json["error"]
    assert client.get("/api/prs/8/workflows?repo=acme/widgets").status_code == 404


def test_migration_0006_gives_the_prs_of_unknown_time_the_epoch(database_url):
    create_app(make_config(database_url))
    database = db.database.obj
    with database.connection_context():
        Runner(database, str(db.migrations_dir())).up(target="0005_failure_diagnosis")
        # A PR known from a run's hint, as ensure_pr wrote it before 0006.
        database.execute_sql(
            "INSERT INTO prs (pr_number, repo_full_name, state, tracking) "
            "VALUES (7, 'a/b', 'open', 'auto')"
        )
        assert db.migrate(database)[:1] == ["0006_pr_listing"]
        (stored,) = database.execute_sql("SELECT updated_at FROM prs").fetchone()
        assert Pr.get().updated_at == EPOCH
    database.close_all()
    # SQLite compares times as text: the one stored format, as models.utcnow writes it.
    assert stored in (EPOCH, "1970-01-01 00:00:00")


def _statements(caplog, client, path):
    """The SELECTs of prs that GET `path` runs, as (sql, params)."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        assert client.get(path).status_code == 200
    return [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, tuple)
        and record.msg[0].startswith("SELECT")
        and '"prs"' in record.msg[0]
    ]


def _plan(database, sql, params):
    """The plan of one statement, as the database's EXPLAIN prints it."""
    if not db.is_postgres(database):
        rows = database.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        return "\n".join(row[-1] for row in rows)
    with database.atomic():
        # A table this small is read whole; say what the plan would be if it were not.
        database.execute_sql("SET LOCAL enable_seqscan = off")
        database.execute_sql("SET LOCAL enable_sort = off")
        rows = database.execute_sql(f"EXPLAIN {sql}", params).fetchall()
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize(
    "path",
    [
        "/api/prs?limit=2",
        "/api/prs?limit=30",
        "/api/prs?after=0.9999999999.999999999999",
        "/api/prs?state=merged",
        "/api/prs?repo=acme/widgets&limit=30",
        "/api/prs?repo=acme/widgets&after=0.9999999999.999999999999",
    ],
)
def test_each_page_is_read_from_an_index_in_its_order(caplog, client, mixed, database, path):
    statements = _statements(caplog, client, path)
    assert statements
    with database.connection_context():
        for sql, params in statements:
            plan = _plan(database, sql, params)
            assert "TEMP B-TREE" not in plan and "Sort" not in plan, f"{sql}\n{plan}"
            assert "USING" in plan or "Index" in plan, f"{sql}\n{plan}"
            assert "Seq Scan" not in plan, f"{sql}\n{plan}"
