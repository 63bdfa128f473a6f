"""History benchmark, run by hand: the read routes' time as history grows (issue 10, item 9).

For each backend it builds a fresh database per size (bench/history_data.py: a realistic
history in plain SQL after the app's migrations), then asks the real app (create_app and
Flask's test client: the app and the database, not the HTTP server) for GET /api/status,
/api/prs (the first page, and one repository's) and the seed's routes of one typical recent
PR (4 runs, 40 jobs, a failed run).
The sizes take turns, a round each; it prints each route's median, the ratio of the largest
size to the smallest, and for every route over 1.5x the plan of each statement it ran.

--span growing (the default) is one organisation as its history grows: the largest size is
--days of it, a smaller one its first days at the same rate over the same repositories (10k
jobs: 1.2 days). --span fixed gives every size --days: a smaller organisation, fewer
repositories (so fewer PRs sharing a number) and fewer deliveries a day.

Postgres gets VACUUM ANALYZE after loading, as autovacuum would give a real database (this
server runs with autovacuum off); SQLite gets no ANALYZE, since the app never runs one.

    python bench/history.py --sizes 10k,1M [--span growing|fixed] [--backends sqlite,postgres]
"""

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cached_property

import harness
from history_data import Postgres, Sqlite, build, shape_of

from prmonitor import create_app
from prmonitor.config import Config
from prmonitor.storage import db as app_db

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgres")
LIMIT = 1.5  # the largest size's time over the smallest's


# -- measuring it ----------------------------------------------------------------------------


@dataclass
class Probe:
    """The typical PR the routes are asked about: a recent one, 4 runs, one of them failed."""

    pr_id: int
    number: int
    repo: str
    workflow_id: int
    namesakes: int  # PRs of other repositories with the same number
    busiest: str  # the repository with the most PRs

    @cached_property
    def routes(self):
        pr = f"/api/prs/{self.number}"
        return {
            "status": "/api/status",
            "prs": "/api/prs",
            # The same repository at every size, and a page it fills at every size.
            "prs?repo&limit": f"/api/prs?repo={self.busiest}&limit=10",
            "workflows": f"{pr}/workflows?repo={self.repo}",
            "failed-jobs": f"{pr}/failed-jobs?repo={self.repo}",
            "workflow-summary": f"{pr}/workflow-summary?repo={self.repo}",
            "workflow jobs": f"/api/workflows/{self.workflow_id}/jobs",
        }


def find_probe(shape):
    """The newest PR half a day old or more whose 4 runs are first attempts, one failed."""
    database, param = app_db.database, app_db.database.param
    with database.connection_context():
        pr_id, number, repo = database.execute_sql(
            "SELECT id, pr_number, repo_full_name FROM prs p WHERE id <= "
            f"{param} AND NOT EXISTS (SELECT 1 FROM workflows w WHERE"
            " w.pr_id = p.id AND w.run_attempt > 1) AND EXISTS (SELECT 1 FROM workflows w"
            " WHERE w.pr_id = p.id AND w.conclusion = 'failure') ORDER BY id DESC LIMIT 1",
            [shape.prs - max(1, int(shape.prs / shape.days / 2))],
        ).fetchone()
        workflow_id = database.execute_sql(
            f"SELECT MIN(id) FROM workflows WHERE pr_id = {param} AND conclusion = 'failure'",
            [pr_id],
        ).fetchone()[0]
        namesakes = database.execute_sql(
            f"SELECT COUNT(*) - 1 FROM prs WHERE pr_number = {param}", [number]
        ).fetchone()[0]
        busiest = database.execute_sql(
            "SELECT repo_full_name FROM prs GROUP BY repo_full_name ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchone()[0]
    return Probe(pr_id, number, repo, workflow_id, namesakes, busiest)


def timed(client, path, requests, warm_up):
    """The seconds each of `requests` GETs of `path` took, after `warm_up` untimed ones."""
    for _ in range(warm_up):
        client.get(path)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.get_data(as_text=True)}")
    return times


def describe_probe(client, probe):
    runs = client.get(probe.routes["workflows"]).json["workflows"]
    failed = client.get(probe.routes["failed-jobs"]).json["failed_jobs"]
    jobs = sum(run["job_count"] for run in runs)
    return (
        f"PR {probe.repo}#{probe.number} (a number {probe.namesakes} other repositories share):"
        f" {len(runs)} runs, {jobs} jobs, {len(failed)} failed; busiest {probe.busiest}"
    )


@contextmanager
def fresh_database(backend, args):
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="prmonitor-history-") as directory:
            yield f"sqlite:///{directory}/history.db"
        return
    with harness.postgres_database(args.postgres_url) as url:
        yield url


@contextmanager
def serving(url):
    """The app over `url` (bound to the shared database proxy), as a test client."""
    app = create_app(Config(database_url=url, github_token="bench-unused", log_level="WARNING"))
    try:
        yield app.test_client()
    finally:
        app_db.database.obj.close_all()


@dataclass(frozen=True)
class Built:
    url: str
    dialect: object
    probe: Probe


@contextmanager
def history(backend, size, args):
    """A database of `size` jobs, built, until the block ends."""
    dialect = Sqlite() if backend == "sqlite" else Postgres()
    shape = shape_of(size, args)
    with fresh_database(backend, args) as url:
        seconds = build(url, dialect, shape)
        print(
            f"{backend} {size:,} jobs: {shape.runs:,} runs, {shape.prs:,} PRs in {shape.repos:,}"
            f" repositories, {shape.deliveries:,} deliveries over {shape.days:.1f} days;"
            f" built in {seconds:.0f} s",
            flush=True,
        )
        with serving(url) as client:
            probe = find_probe(shape)
            print(f"  {describe_probe(client, probe)}", flush=True)
        yield Built(url, dialect, probe)


def measure_backend(backend, args):
    """{size: {route: median ms}}; the sizes take turns, a round each, so that drift in the
    machine's speed hits them alike. Plans of the routes the largest size missed."""
    per_round = max(1, args.requests // args.rounds)
    with ExitStack() as stack:
        built = {size: stack.enter_context(history(backend, size, args)) for size in args.sizes}
        samples = {size: defaultdict(list) for size in args.sizes}
        for _ in range(args.rounds):
            for size, database in built.items():
                with serving(database.url) as client:
                    for name, path in database.probe.routes.items():
                        samples[size][name] += timed(client, path, per_round, args.warm_up)
        results = {
            size: {name: 1000 * statistics.median(times) for name, times in routes.items()}
            for size, routes in samples.items()
        }
        largest = built[args.sizes[-1]]
        with serving(largest.url) as client:
            for name in misses(results[args.sizes[0]], results[args.sizes[-1]]):
                explain(client, name, largest.probe.routes[name], largest.dialect)
    return results


def misses(baseline, times):
    return [name for name, ms in times.items() if ms > LIMIT * baseline[name]]


# -- explaining a miss -----------------------------------------------------------------------


class _Statements(logging.Handler):
    """Collects the (sql, params) that peewee logs at DEBUG."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen = []

    def emit(self, record):
        if isinstance(record.msg, tuple):
            self.seen.append(record.msg)


def explain(client, name, path, dialect):
    """Print the plan of every SELECT the route runs (EXPLAIN ANALYZE on Postgres)."""
    logger, handler = logging.getLogger("peewee"), _Statements()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        client.get(path)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = True
    prefix = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    print(f"  {name} ({path}) missed {LIMIT}x; its statements and their plans:")
    database = app_db.database
    with database.connection_context():
        for sql, params in handler.seen:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            print(f"    {sql}\n    params {params}")
            for row in database.execute_sql(prefix + sql, params).fetchall():
                print(f"      {' '.join(str(part) for part in row)}")


# -- the report ------------------------------------------------------------------------------


def print_table(backend, results):
    sizes = list(results)
    small, large = results[sizes[0]], results[sizes[-1]]
    head = "".join(f"{_size_label(size) + ' ms':>10}" for size in sizes)
    print(f"\n{backend:<18}{head}{'ratio':>8}  within {LIMIT}x")
    for name in small:
        cells = "".join(f"{results[size][name]:>10.2f}" for size in sizes)
        ratio = large[name] / small[name]
        print(f"{name:<18}{cells}{ratio:>8.2f}  {'yes' if ratio <= LIMIT else 'NO'}")


def _size_label(size):
    for unit, factor in (("M", 1_000_000), ("k", 1000)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def parse_size(text):
    factor = {"k": 1000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    return int(text[:-1] if factor > 1 else text) * factor


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--sizes", default="10k,100k", help="jobs per database, smallest first (default 10k,100k)")
    add("--backends", default=",".join(BACKENDS), help="comma list (default sqlite,postgres)")
    add("--requests", type=int, default=200, help="timed requests per route and size (200)")
    add("--rounds", type=int, default=4, help="turns each size takes (default 4)")
    add("--warm-up", type=int, default=10, help="untimed requests per route and round (10)")
    add("--days", type=float, default=120, help="days of history (default 120)")
    add(
        "--span",
        choices=("fixed", "growing"),
        default="growing",
        help="growing (default): one organisation's history, the largest size spanning --days"
        " and the smaller ones its first days at the same daily rate, over the same"
        " repositories; fixed: every size spans --days (a smaller organisation, fewer"
        " repositories and fewer deliveries a day)",
    )
    add("--postgres-url", default=DEFAULT_POSTGRES, help=f"default {DEFAULT_POSTGRES}")
    args = parser.parse_args(argv)
    args.sizes = sorted(parse_size(s.strip()) for s in args.sizes.split(",") if s.strip())
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if set(args.backends) - set(BACKENDS) or len(args.sizes) < 2:
        parser.error("--backends takes sqlite and/or postgres; --sizes at least two sizes")
    return args


def warn_if_busy(when):
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f} {when}; other work skews the numbers")


def main(argv=None):
    args = parse_args(argv)
    warn_if_busy("before starting")
    tables = {backend: measure_backend(backend, args) for backend in args.backends}
    warn_if_busy("at the end")
    for backend, results in tables.items():
        print_table(backend, results)
    verdicts = [misses(r[args.sizes[0]], r[args.sizes[-1]]) for r in tables.values()]
    return 1 if any(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
