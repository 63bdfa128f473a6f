"""Writes: the guarded upserts of every delivery. A row only moves forward, whatever order
events arrive in; the statements every delivery makes are rendered once and cached."""

import datetime
import json

from peewee import SqliteDatabase

from prmonitor.storage.db import database, is_postgres
from prmonitor.storage.db import defer as db_defer
from prmonitor.storage.models import (
    FAILED_CONCLUSIONS,
    PLACEHOLDER_RANK,
    Delivery,
    Installation,
    Pr,
    Repository,
    Workflow,
    utcnow,
)

# -- cached statements -------------------------------------------------------------------------
# Rendering a query with peewee costs about 0.2 ms, more than running it: the statements every
# delivery makes are plain SQL, rendered once per column set and backend. ON CONFLICT ... DO
# UPDATE ... WHERE and RETURNING read the same on SQLite (>= 3.35) and Postgres.

_rendered = {}


def _execute(key, render, values, deferred=False):
    """Run the statement `render(param)` made for `key`, rendering it only the first time;
    `deferred`: nobody reads its result, so on Postgres it goes with the next round trip."""
    param = database.param
    sql = _rendered.get((key, param))
    if sql is None:
        sql = _rendered[(key, param)] = render(param)
    if isinstance(database.obj, SqliteDatabase):
        # The one stored time format (SQLite compares times as text): see models.utcnow.
        values = [v.isoformat(" ") if isinstance(v, datetime.datetime) else v for v in values]
    if deferred:
        return db_defer(sql, values)
    return database.execute_sql(sql, values)


def _insert_sql(table, columns, conflict, action="DO NOTHING", returning=""):
    """A render function for INSERT ... ON CONFLICT (conflict) action; see _execute."""

    def render(param):
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join([param] * len(columns))}) "
            f"ON CONFLICT ({conflict}) {action}{returning}"
        )

    return render


def _upsert_sql(table, columns, conflict, updates, where, returning=""):
    action = f"DO UPDATE SET {', '.join(updates)} WHERE {where}"
    return _insert_sql(table, columns, conflict, action, returning)


# Indexed columns an upsert never rewrites: the conflict key, and the run attempt a job belongs
# to (GitHub never moves a job). SQLite rewrites the index entry of every indexed column a SET
# names, changed or not: a page in the WAL at every delivery.
_RUN_KEEPS = ("run_id", "run_attempt")
_JOB_KEEPS = ("job_id", "workflow_id")


def _with_defaults(model, row):
    """The row with the model's Python-side defaults (prs.created_at, prs.tracking, ...) for the
    columns it lacks: a plain INSERT does not apply them as Model.insert() does."""
    filled = {
        field.column_name: default() if callable(default) else default
        for field, default in model._meta.defaults.items()
        if field.column_name not in row
    }
    return {**filled, **row}


def _advances(table):
    """The ON CONFLICT guard: the incoming row is further along, or as far along but later."""
    return (
        f"(EXCLUDED.status_rank > {table}.status_rank OR (EXCLUDED.status_rank = "
        f"{table}.status_rank AND EXCLUDED.updated_at > {table}.updated_at))"
    )


# -- runs and jobs ---------------------------------------------------------------------------


def upsert_workflow(row):
    """Insert or advance one run attempt; returns (id, pr_id) of the stored row."""
    columns = tuple(row)
    render = _upsert_sql(
        "workflows",
        columns,
        "run_id, run_attempt",
        [f"{c} = EXCLUDED.{c}" for c in columns if c not in _RUN_KEEPS],
        _advances("workflows"),
        returning=" RETURNING id, pr_id",
    )
    written = _execute(("workflow", columns), render, list(row.values())).fetchone()
    if written is not None:
        return tuple(written)
    workflow_id, pr_id, _, _ = workflow_state(row["run_id"], row["run_attempt"])
    return workflow_id, pr_id


def ensure_workflow(placeholder, found):
    """workflow_state of the run attempt a job belongs to (`found`, when it exists), created as
    a placeholder when the job came first."""
    if found is not None:
        return found
    placeholder = _with_defaults(Workflow, placeholder)
    columns = tuple(placeholder)
    render = _insert_sql(
        "workflows",
        columns,
        "run_id, run_attempt",
        returning=" RETURNING id, pr_id, status_rank, status",
    )
    created = _execute(("placeholder", columns), render, list(placeholder.values())).fetchone()
    return created or workflow_state(placeholder["run_id"], placeholder["run_attempt"])


def advance_placeholder(workflow_id):
    """Until the run's own event arrives, its placeholder is queued, or in progress once any of
    its jobs is: whichever job event comes first, the placeholder ends the same."""

    def render(param):
        return (
            "UPDATE workflows SET status = 'in_progress' WHERE id = "
            f"{param} AND status_rank = {PLACEHOLDER_RANK} AND status <> 'in_progress'"
        )

    _execute("advance_placeholder", render, [workflow_id], deferred=True)


def workflow_state(run_id, run_attempt):
    """(id, pr_id, status_rank, status) of one run attempt, or None."""

    def render(param):
        return (
            "SELECT id, pr_id, status_rank, status FROM workflows "
            f"WHERE run_id = {param} AND run_attempt = {param}"
        )

    return _execute("workflow_state", render, [run_id, run_attempt]).fetchone()


def upsert_job(row):
    """Insert or advance one job (a row with workflow_id and pr_id); a stored pr_id is never
    cleared. Deferred: on Postgres it travels with the transaction's next statement."""
    columns = tuple(row)
    updates = [f"{c} = EXCLUDED.{c}" for c in columns if c not in (*_JOB_KEEPS, "pr_id")]
    updates.append("pr_id = COALESCE(EXCLUDED.pr_id, workflow_jobs.pr_id)")
    render = _upsert_sql("workflow_jobs", columns, "job_id", updates, _advances("workflow_jobs"))
    _execute(("job", columns), render, list(row.values()), deferred=True)


def refresh_failure_details(workflow_id):
    """workflows.failure_details: this attempt's failed jobs and their failed steps, as JSON.

    On Postgres, two failed jobs of one run recorded at once would each see only its own job
    (the other's transaction is not committed yet), and the later commit would drop the other
    job. So the run's row is locked first: the second transaction waits for the first to commit,
    and its SELECT, a new statement with a new snapshot under READ COMMITTED, sees both jobs.
    NO KEY UPDATE, the lock an UPDATE of the row takes anyway, does not conflict with the KEY
    SHARE lock a job's foreign key takes on the run, so job upserts never wait on it.
    https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-ROWS
    SQLite needs nothing: its write transactions already run one at a time.
    """
    if is_postgres():
        # Deferred: it reaches the server just before the SELECT, in the same round trip.
        db_defer("SELECT 1 FROM workflows WHERE id = %s FOR NO KEY UPDATE", [workflow_id])

    def select(param):
        failed = ", ".join(f"'{c}'" for c in FAILED_CONCLUSIONS)
        return (
            "SELECT job_name, failed_steps FROM workflow_jobs "
            f"WHERE workflow_id = {param} AND conclusion IN ({failed}) ORDER BY job_name"
        )

    def update(param):
        return f"UPDATE workflows SET failure_details = {param} WHERE id = {param}"

    failed = _execute("failed_jobs", select, [workflow_id]).fetchall()
    details = [{"job": name, "failed_steps": json.loads(steps or "[]")} for name, steps in failed]
    summary = json.dumps(details) if details else None
    _execute("failure_details", update, [summary, workflow_id], deferred=True)


def upsert_pr(row, reopens=True, moves_head=True):
    """Insert or update a pull request unless the stored one is newer; returns its id.

    GitHub's updated_at has one-second resolution, and a bot may label and close a PR in the
    same second: of two versions of one second, the one written last wins, except that a
    merged PR stays merged (GitHub cannot reopen one), a closed PR is reopened only by a write
    that `reopens`, and an open PR's head moves only by one that `moves_head`
    (record.record_pull_request says which do) or by its close.

    A change of state or head makes the PR due for reconciliation again (reconciled_at NULL):
    that is how a closed PR gets its one final pass, whoever saw it close first."""
    updates = [f"{c} = EXCLUDED.{c}" for c in row if c not in ("pr_number", "repo_full_name")]
    updates.append(
        "reconciled_at = CASE WHEN prs.state = EXCLUDED.state AND prs.head_sha = "
        "EXCLUDED.head_sha THEN prs.reconciled_at ELSE NULL END"
    )
    new = _with_defaults(Pr, row)

    def render(param):
        same_second = (
            "(COALESCE(prs.state, '') <> 'merged' OR EXCLUDED.state = 'merged') AND "
            f"(COALESCE(prs.state, 'open') = 'open' OR EXCLUDED.state <> 'open' OR {param}) AND "
            # A closed PR's head no longer moves, so a close carries the latest head.
            "(EXCLUDED.state <> 'open' OR "
            f"EXCLUDED.head_sha = COALESCE(prs.head_sha, EXCLUDED.head_sha) OR {param})"
        )
        newer = (
            "prs.updated_at IS NULL OR EXCLUDED.updated_at > prs.updated_at OR "
            f"(EXCLUDED.updated_at = prs.updated_at AND {same_second})"
        )
        return _upsert_sql("prs", tuple(new), "pr_number, repo_full_name", updates, newer)(param)

    values = [*new.values(), reopens, moves_head]
    _execute(("pr", tuple(row), tuple(new)), render, values, deferred=True)
    return pr_id_for(row["repo_full_name"], row["pr_number"])


def ensure_pr(row):
    """A pull request known only from a run's pull_requests hint: create it if it is new."""
    row = _with_defaults(Pr, row)
    columns = tuple(row)
    render = _insert_sql("prs", columns, "pr_number, repo_full_name")
    _execute(("new_pr", columns), render, list(row.values()), deferred=True)
    return pr_id_for(row["repo_full_name"], row["pr_number"])


def pr_id_for(repo_full_name, pr_number):
    def render(param):
        return f"SELECT id FROM prs WHERE repo_full_name = {param} AND pr_number = {param}"

    found = _execute("pr_id_for", render, [repo_full_name, pr_number]).fetchone()
    return found[0] if found else None


def add_pr_head(pr_id, repo_full_name, head_sha):
    columns = ("pr_id", "repo_full_name", "head_sha")
    render = _insert_sql("pr_heads", columns, "repo_full_name, head_sha, pr_id")
    _execute("add_pr_head", render, [pr_id, repo_full_name, head_sha], deferred=True)


def lock_commit(repo_full_name, head_sha):
    """Serialise, until commit, the transactions that may link one commit's runs to a PR.

    On Postgres a pull_request delivery and a run delivery for the same commit, in concurrent
    transactions, could each miss the row the other is inserting, and the run would stay
    without its PR. Taken before the transaction's first write, the lock also keeps such
    transactions from deadlocking on each other's rows. SQLite needs nothing: its IMMEDIATE
    transactions already run one at a time.
    """
    if is_postgres():
        # Deferred: it reaches the server just before the statement that follows it.
        key = f"{repo_full_name}:{head_sha}"
        db_defer("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def link_commit(repo_full_name, head_sha, pr_id=None):
    """Attach the runs and jobs of one commit that have no PR yet to the PR whose head it is
    (`pr_id` when the run itself named it): an open one first, then the newest. Call
    lock_commit first."""

    def find(param):
        return (
            "SELECT h.pr_id FROM pr_heads h JOIN prs p ON p.id = h.pr_id "
            f"WHERE h.repo_full_name = {param} AND h.head_sha = {param} "
            # COALESCE: a PR of unknown state sorts after the open ones on both databases.
            "ORDER BY COALESCE(p.state = 'open', FALSE) DESC, p.id DESC LIMIT 1"
        )

    if pr_id is None:
        found = _execute("pr_of_commit", find, [repo_full_name, head_sha]).fetchone()
        pr_id = found[0] if found else None
    if pr_id is None:
        return None
    commit = [pr_id, repo_full_name, head_sha]
    _execute("link_runs", _link_runs_sql, commit, deferred=True)
    _execute("link_jobs", _link_jobs_sql, commit, deferred=True)
    return pr_id


def _link_runs_sql(param):
    return (
        f"UPDATE workflows SET pr_id = {param} "
        f"WHERE repo_full_name = {param} AND head_sha = {param} AND pr_id IS NULL"
    )


def _link_jobs_sql(param):
    return (
        f"UPDATE workflow_jobs SET pr_id = {param} WHERE pr_id IS NULL AND workflow_id IN "
        f"(SELECT id FROM workflows WHERE repo_full_name = {param} AND head_sha = {param})"
    )


def claim_delivery(delivery_id, event, action, outcome):
    """Record a delivery and its outcome; False when it was already handled (one that failed may
    be handled again)."""
    values = [delivery_id, event, action, outcome, utcnow(), 1]
    return _execute("claim_delivery", _claim_sql, values).rowcount > 0


def claim_delivery_or_fail(delivery_id, event, action, outcome):
    """claim_delivery for Postgres, deferred to the transaction's next round trip: a delivery
    already handled makes the statement fail (is_duplicate tells that failure apart), and the
    transaction rolls back before anything else of it ran."""

    def render(param):
        return (
            f"WITH claimed AS ({_claim_sql(param)} RETURNING 1) "
            "SELECT 1 / (SELECT count(*) FROM claimed)"
        )

    values = [delivery_id, event, action, outcome, utcnow(), 1]
    _execute("claim_or_fail", render, values, deferred=True)


def commit_without_waiting_for_disk():
    """This transaction's COMMIT returns before Postgres has flushed its WAL to disk.

    On this machine the flush takes a millisecond of every delivery, two thirds of the time
    the receiver waits: 838 deliveries/s with it, 1,150 without. Everything stays atomic and
    visible to every reader before the 2xx; what a crash of the Postgres server itself can
    lose is the last few hundred milliseconds of deliveries, which GitHub will not send again
    but the reconciliation poller restores from GitHub's API. So it is used only while a poller
    that can do so runs (webhooks.poller_restores).
    https://www.postgresql.org/docs/current/wal-async-commit.html
    """
    db_defer("SET LOCAL synchronous_commit = off", [])


def is_duplicate(exc):
    """Whether a DataError is claim_delivery_or_fail finding the delivery already handled: no
    other statement prmonitor sends divides."""
    for cause in (exc.__cause__, exc.__context__, *exc.args):
        if getattr(cause, "pgcode", None) == "22012":  # division_by_zero
            return True
    return False


def _claim_sql(param):
    retryable = ", ".join(f"'{name}'" for name in RETRYABLE_OUTCOMES)
    return _upsert_sql(
        "deliveries",
        ("delivery_id", "event", "action", "outcome", "received_at", "attempts"),
        "delivery_id",
        [
            "outcome = EXCLUDED.outcome",
            "error = NULL",
            "received_at = EXCLUDED.received_at",
            "attempts = deliveries.attempts + 1",
        ],
        f"deliveries.outcome IN ({retryable})",
    )(param)


RETRYABLE_OUTCOMES = ("failed", "invalid")


def record_failed_delivery(delivery_id, event, action, outcome, error):
    """Outside the rolled-back transaction: remember that this delivery failed, and why."""
    Delivery.insert(
        delivery_id=delivery_id, event=event, action=action, outcome=outcome, error=error
    ).on_conflict(
        conflict_target=[Delivery.delivery_id],
        update={Delivery.outcome: outcome, Delivery.error: error},
        where=Delivery.outcome.not_in(("processed", "ignored")),
    ).execute()


def upsert_installation(row):
    fields = [Installation._meta.fields[name] for name in row]
    Installation.insert(**row, updated_at=utcnow()).on_conflict(
        conflict_target=[Installation.installation_id],
        preserve=[*fields, Installation.updated_at],
    ).execute()


def set_repositories(rows, active):
    """Mark repositories as installed (active) or removed; rows carry repo_id, full_name and
    installation_id."""
    for row in rows:
        Repository.insert(**row, active=active, updated_at=utcnow()).on_conflict(
            conflict_target=[Repository.repo_id],
            preserve=[
                Repository.full_name,
                Repository.installation_id,
                Repository.active,
                Repository.updated_at,
            ],
        ).execute()


def deactivate_installation_repositories(installation_id):
    Repository.update(active=False, updated_at=utcnow()).where(
        Repository.installation_id == installation_id
    ).execute()
