"""The history bench/history.py measures, built in plain SQL after the app's migrations: its
shape (10 jobs per run, 4 runs per PR, a re-run now and then, skewed repositories each numbering
its PRs, 3.3 deliveries per job, a failed and diagnosed job in a quarter of the runs, most PRs
merged or closed) and the INSERT ... SELECT statements that fill each table, on SQLite and
Postgres alike.
"""

import time
from dataclasses import dataclass

import harness

from prmonitor.storage import db as app_db

# After loading, as autovacuum would have done (this server runs with autovacuum off).
VACUUM = (
    "VACUUM ANALYZE prs, pr_heads, workflows, workflow_jobs, diagnosis_tasks, deliveries, leases"
)
STEPS = '[{"name": "Set up job", "number": 1, "conclusion": "success"}, {"name": "Run tests", "number": 2, "conclusion": "%s"}]'  # noqa: E501


# -- the shape of the history ----------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How many rows of each kind `jobs` jobs make, and when they happened (epoch seconds)."""

    jobs: int
    days: float
    repos: int
    end: int

    runs = property(lambda self: self.jobs // 10)
    prs = property(lambda self: self.runs // 4)
    deliveries = property(lambda self: 3 * self.jobs + 3 * self.runs)
    start = property(lambda self: self.end - int(self.days * 86400))

    @property
    def open_from(self):
        """PRs from this index on are open (those of the last three days), as are a few older."""
        return self.prs - max(1, int(self.prs * 3 / self.days))

    # Times as SQL expressions of a row's index: a PR every few minutes, its runs 1.5 h apart
    # (new pushes), a run's jobs starting within seconds and taking 2 to 17 minutes.
    def pr_created(self, p):
        step = (self.end - self.start - 8 * 3600) / self.prs
        return f"({self.start} + CAST(({p}) * {step:.3f} AS BIGINT) + {mix(p, 1)} % 1800)"

    def run_created(self, w):
        return f"({self.pr_created(f'({w}) / 4')} + (({w}) % 4) * 5400 + 60)"

    def run_completed(self, w):
        return f"({self.run_created(w)} + 1185)"

    def job_started(self, j):
        return f"({self.run_created(f'({j}) / 10')} + 30 + (({j}) % 10) * 15)"

    def job_completed(self, j):
        return f"({self.job_started(j)} + 120 + {mix(j, 2)} % 900)"


def shape_of(size, args):
    """A history of `size` jobs: (growing) the first days of the largest size's organisation,
    at its rate and over its repositories, or (fixed) four months of a smaller organisation."""
    grown = args.sizes[-1] if args.span == "growing" else size
    days = max(0.5, args.days * size / grown)
    return Shape(size, days, repos=max(8, grown // 4000), end=int(time.time()))


def mix(x, salt):
    """A deterministic pseudo-random number from 0 to 65535 for the row index `x`."""
    return f"(((({x}) * 2654435761 + {salt * 40503}) % 4294967296) / 65536)"


class Sqlite:
    name = "sqlite"

    def series(self, n):
        return (
            f"(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n})"
            " SELECT i FROM s) AS g"
        )

    def ts(self, seconds):
        return f"datetime({seconds}, 'unixepoch')"

    def hex(self, value, width):
        return f"printf('%0{width}x', {value})"

    def escape(self, sql):
        return sql


class Postgres:
    name = "postgres"

    def series(self, n):
        return f"generate_series(0, {n - 1}) AS g(i)"

    def ts(self, seconds):
        return f"(TIMESTAMP 'epoch' + ({seconds}) * INTERVAL '1 second')"

    def hex(self, value, width):
        return f"lpad(to_hex({value}), {width}, '0')"

    def escape(self, sql):
        return sql.replace("%", "%%")  # psycopg2 reads % as a placeholder, even without any


# -- building it -----------------------------------------------------------------------------


def history_sql(s, d):
    """The INSERT ... SELECT statements that fill every table, in order."""
    return [
        _prs_sql(s, d),
        "INSERT INTO pr_heads (pr_id, repo_full_name, head_sha)"
        " SELECT id, repo_full_name, head_sha FROM prs",
        _workflows_sql(s, d),
        _jobs_sql(s, d),
        "INSERT INTO diagnosis_tasks (job_id, state, attempts, due_at, created_at, finished_at)"
        " SELECT job_id, 'done', 1, completed_at, completed_at, diagnosed_at FROM workflow_jobs"
        " WHERE conclusion = 'failure'",
        _deliveries_sql(s, d),
    ]


def insert(table, values, source):
    """INSERT INTO table (the keys) SELECT the values FROM source."""
    columns, selected = ", ".join(values), ", ".join(values.values())
    return f"INSERT INTO {table} ({columns}) SELECT {selected} FROM {source}"


def _prs_sql(s, d):
    # Repositories are skewed (a few busy ones, many quiet ones); each numbers its own PRs.
    repo = f"({mix('i', 3)} * {mix('i', 3)} * {s.repos} / 4294967296)"
    numbered = (
        "(SELECT i, repo, 4000 + ROW_NUMBER() OVER (PARTITION BY repo ORDER BY i) AS n,"
        " 'org-' || (repo % 5) || '/service-' || repo AS name"
        f" FROM (SELECT i, {repo} AS repo FROM {d.series(s.prs)}) AS r) AS x"
    )
    sha = " || ".join(d.hex(f"(i * 2654435761 + {k * 7919}) % 4294967296", 8) for k in range(5))
    is_open = f"(i >= {s.open_from} OR {mix('i', 4)} % 40 = 0)"
    updated = d.ts(f"{s.pr_created('i')} + 17445")  # its last run's end
    values = {
        "id": "i + 1",
        "pr_number": "n",
        "repo_full_name": "name",
        "repo_id": "5000 + repo",
        "installation_id": "70 + repo % 5",
        "title": "'Change ' || i",
        "author": "'dev-' || (i % 300)",
        "head_sha": sha,
        "head_ref": "'feature-' || i",
        "base_ref": "'main'",
        "state": f"CASE WHEN {is_open} THEN 'open' WHEN i % 10 < 7 THEN 'merged' ELSE 'closed' END",
        "html_url": "'https://github.com/' || name || '/pull/' || n",
        "updated_at": updated,
        "created_at": d.ts(s.pr_created("i")),
        "tracking": "'auto'",
        "reconciled_at": updated,
    }
    return insert("prs", values, numbered)


def _workflows_sql(s, d):
    # Every 20th run is attempt 2 of the run before it (a re-run after a failure).
    rerun = "CASE WHEN i % 20 = 19 THEN 1 ELSE 0 END"
    fails = f"(i % 20 = 18 OR {mix('i', 5)} % 100 < 22)"
    run_id = f"9000000000 + i - {rerun}"
    name = f"CASE (i - {rerun}) % 4 WHEN 0 THEN 'CI' WHEN 1 THEN 'Tests' WHEN 2 THEN 'Lint' ELSE 'Docs' END"  # noqa: E501
    values = {
        "id": "i + 1",
        "pr_id": "p.id",
        "run_id": run_id,
        "workflow_name": name,
        "status": "'completed'",
        "conclusion": f"CASE WHEN {fails} THEN 'failure' ELSE 'success' END",
        "head_sha": "p.head_sha",
        "html_url": f"'https://github.com/' || p.repo_full_name || '/actions/runs/' || ({run_id})",
        "run_number": "1000 + i",
        "run_attempt": f"1 + {rerun}",
        "created_at": d.ts(s.run_created("i")),
        "started_at": d.ts(s.run_created("i") + " + 20"),
        "completed_at": d.ts(s.run_completed("i")),
        "failure_details": f"CASE WHEN {fails} THEN '1 job failed' END",
        "repo_full_name": "p.repo_full_name",
        "repo_id": "p.repo_id",
        "installation_id": "p.installation_id",
        "head_branch": "p.head_ref",
        "event": "'pull_request'",
        "status_rank": "3",
        "updated_at": d.ts(s.run_completed("i")),
        "jobs_synced_at": d.ts(s.run_completed("i") + " + 60"),
    }
    return insert("workflows", values, f"{d.series(s.runs)} JOIN prs p ON p.id = i / 4 + 1")


def _jobs_sql(s, d):
    # In a failed run, one job of ten failed, and the worker has diagnosed it.
    failed = "(w.conclusion = 'failure' AND i % 10 = 7)"
    done = d.ts(s.job_completed("i"))
    values = {
        "id": "i + 1",
        "workflow_id": "w.id",
        "pr_id": "w.pr_id",
        "job_id": "20000000000 + i",
        "job_name": "'test (' || (i % 10) || ')'",
        "status": "'completed'",
        "conclusion": f"CASE WHEN {failed} THEN 'failure' ELSE 'success' END",
        "started_at": d.ts(s.job_started("i")),
        "completed_at": done,
        "html_url": "'https://github.com/' || w.repo_full_name || '/actions/runs/' || w.run_id"
        " || '/job/' || (20000000000 + i)",
        "runner_name": "'GitHub Actions ' || (i % 50)",
        "failed_steps": f"CASE WHEN {failed} THEN '[\"Run tests\"]' ELSE '[]' END",
        "error_message": f"CASE WHEN {failed} THEN 'Process completed with exit code 1.' END",
        "run_id": "w.run_id",
        "run_attempt": "w.run_attempt",
        "head_sha": "w.head_sha",
        "workflow_name": "w.workflow_name",
        "created_at": d.ts(s.run_created("i / 10")),
        "updated_at": done,
        "status_rank": "3",
        "steps": f"CASE WHEN {failed} THEN '{STEPS % 'failure'}' ELSE '{STEPS % 'success'}' END",
        "labels": "'[\"ubuntu-latest\"]'",
    }
    diagnosis = {
        "failure_rule": "'pytest-failed'",
        "failure_signature": "'FAILED tests/test_' || (i % 97) || '.py::test_case'",
        "failure_excerpt": "'E   AssertionError: expected 200, got 500'",
        "failure_source": "'log'",
        "log_truncated": "FALSE",
        "failure_class": "'test'",
        "evidence": "'{\"seen_on_base\": false}'",
        "diagnosed_at": d.ts(s.job_completed("i") + " + 90"),
    }
    values.update((k, f"CASE WHEN {failed} THEN {v} END") for k, v in diagnosis.items())
    source = f"{d.series(s.jobs)} JOIN workflows w ON w.id = i / 10 + 1"
    return insert("workflow_jobs", values, source)


def _deliveries_sql(s, d):
    # Three per job (queued, in_progress, completed), then three per run (requested, ...).
    first_run, j, w = 3 * s.jobs, "(i / 3)", f"((i - {3 * s.jobs}) / 3)"
    job_at = f"CASE i % 3 WHEN 0 THEN {s.run_created(f'{j} / 10')} + {j} % 10 WHEN 1 THEN {s.job_started(j)} ELSE {s.job_completed(j)} END"  # noqa: E501
    run_at = f"CASE i % 3 WHEN 0 THEN {s.run_created(w)} WHEN 1 THEN {s.run_created(w)} + 30 ELSE {s.run_completed(w)} END"  # noqa: E501
    action = "CASE i % 3 WHEN 0 THEN 'queued' WHEN 1 THEN 'in_progress' ELSE 'completed' END"
    values = {
        "id": "i + 1",
        "delivery_id": f"{d.hex('i', 8)} || '-' || {d.hex(mix('i', 7), 4)} || '-4000-8000-'"
        f" || {d.hex(mix('i', 8), 8)} || {d.hex(mix('i', 9), 4)}",
        "event": f"CASE WHEN i < {first_run} THEN 'workflow_job' ELSE 'workflow_run' END",
        "action": f"CASE WHEN i >= {first_run} AND i % 3 = 0 THEN 'requested' ELSE {action} END",
        "received_at": d.ts(f"CASE WHEN i < {first_run} THEN {job_at} ELSE {run_at} END"),
        "outcome": f"CASE WHEN {mix('i', 6)} % 1000 < 25 THEN 'ignored'"
        f" WHEN {mix('i', 6)} % 1000 < 27 THEN 'failed' ELSE 'processed' END",
        "attempts": "1",
    }
    return insert("deliveries", values, d.series(s.deliveries))


def build(url, dialect, shape):
    """Migrate a fresh database and fill it; returns the seconds it took."""
    started = time.perf_counter()
    database = app_db.open_database(url)
    try:
        app_db.migrate(database)
        with database.connection_context():
            if dialect.name == "sqlite":
                database.execute_sql("PRAGMA cache_size = -1000000")  # a GB, for the load
            with database.atomic():
                for sql in history_sql(shape, dialect):
                    database.execute_sql(dialect.escape(sql))
                _poller_lease(database, shape)
            if dialect.name == "sqlite":
                database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        database.close_all()
    if dialect.name == "postgres":
        harness._postgres_admin(url, VACUUM)
    return time.perf_counter() - started


def _poller_lease(database, s):
    """A worker holding the poller's lease, its last cycle a minute old (what /api/status reads)."""
    finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s.end - 60))
    status = f'{{"finished_at": "{finished}", "errors": 0, "calls": 41, "not_modified": 30}}'
    at = [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) for t in (s.end + 3600, s.end - 86400)]
    database.execute_sql(
        "INSERT INTO leases (name, holder, expires_at, acquired_at, status) VALUES "
        f"('poller', 'bench-worker', {', '.join([database.param] * 3)})",
        [*at, status],
    )
