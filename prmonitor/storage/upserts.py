"""The guarded upserts of runs, jobs and pull requests, and the linking of runs to their PR.

A row only moves forward, whatever order events arrive in: the guard is part of each upsert
(INSERT ... ON CONFLICT ... DO UPDATE ... WHERE), so concurrent deliveries cannot race it.
"""

import json

from prmonitor.storage import db
from prmonitor.storage.models import (
    EPOCH,
    FAILED_CONCLUSIONS,
    PLACEHOLDER_RANK,
    Pr,
    Workflow,
    utcnow,
)
from prmonitor.storage.sql import execute, insert_sql, upsert_sql, with_defaults

# Indexed columns an upsert never rewrites: the conflict key, and the run attempt a job belongs
# to (GitHub never moves a job). SQLite rewrites the index entry of every indexed column a SET
# names, changed or not: a page in the WAL at every delivery.
_RUN_KEEPS = ("run_id", "run_attempt")
_JOB_KEEPS = ("job_id", "workflow_id", "head_sha", "job_name")


def _advances(table):
    """The ON CONFLICT guard: the incoming row is further along, or as far along but later."""
    return (
        f"(EXCLUDED.status_rank > {table}.status_rank OR (EXCLUDED.status_rank = "
        f"{table}.status_rank AND EXCLUDED.updated_at > {table}.updated_at))"
    )


# -- runs and jobs ---------------------------------------------------------------------------


def upsert_workflow(row):
    """Insert or advance one run attempt; returns (id, pr_id, whether it was written) of the
    stored row: an older or equal version of it writes nothing."""
    columns = tuple(row)
    render = upsert_sql(
        "workflows",
        columns,
        "run_id, run_attempt",
        [f"{c} = EXCLUDED.{c}" for c in columns if c not in _RUN_KEEPS],
        _advances("workflows"),
        returning=" RETURNING id, pr_id",
    )
    written = execute(("workflow", columns), render, list(row.values())).fetchone()
    if written is not None:
        return (*written, True)
    workflow_id, pr_id, _, _ = workflow_state(row["run_id"], row["run_attempt"])
    return workflow_id, pr_id, False


def ensure_workflow(placeholder, found):
    """workflow_state of the run attempt a job belongs to (`found`, when it exists), created as
    a placeholder when the job came first."""
    if found is not None:
        return found
    placeholder = with_defaults(Workflow, placeholder)
    columns = tuple(placeholder)
    render = insert_sql(
        "workflows",
        columns,
        "run_id, run_attempt",
        returning=" RETURNING id, pr_id, status_rank, status",
    )
    created = execute(("placeholder", columns), render, list(placeholder.values())).fetchone()
    return created or workflow_state(placeholder["run_id"], placeholder["run_attempt"])


def advance_placeholder(workflow_id):
    """Until the run's own event arrives, its placeholder is queued, or in progress once any of
    its jobs is: whichever job event comes first, the placeholder ends the same."""

    def render(param):
        return (
            "UPDATE workflows SET status = 'in_progress' WHERE id = "
            f"{param} AND status_rank = {PLACEHOLDER_RANK} AND status <> 'in_progress'"
        )

    execute("advance_placeholder", render, [workflow_id], deferred=True)


def workflow_state(run_id, run_attempt):
    """(id, pr_id, status_rank, status) of one run attempt, or None."""

    def render(param):
        return (
            "SELECT id, pr_id, status_rank, status FROM workflows "
            f"WHERE run_id = {param} AND run_attempt = {param}"
        )

    return execute("workflow_state", render, [run_id, run_attempt]).fetchone()


def upsert_job(row):
    """Insert or advance one job (a row with workflow_id and pr_id); a stored pr_id is never
    cleared. Deferred: on Postgres it travels with the transaction's next statement."""
    columns = tuple(row)
    keeps = (*_JOB_KEEPS, "pr_id", "error_message")
    updates = [f"{c} = EXCLUDED.{c}" for c in columns if c not in keeps]
    updates.append("pr_id = COALESCE(EXCLUDED.pr_id, workflow_jobs.pr_id)")
    if "error_message" in columns:
        # The failed step's name until the diagnosis has put the log's line there.
        updates.append(
            "error_message = CASE WHEN workflow_jobs.diagnosed_at IS NULL "
            "THEN EXCLUDED.error_message ELSE workflow_jobs.error_message END"
        )
    render = upsert_sql("workflow_jobs", columns, "job_id", updates, _advances("workflow_jobs"))
    execute(("job", columns), render, list(row.values()), deferred=True)


def enqueue_diagnosis(job_id):
    """One diagnosis task per failed job, whoever sees it complete first (a delivery, its
    duplicate, a poll): the unique job_id makes the others' inserts do nothing. Deferred: it
    commits with the job's row, in the same transaction."""

    def render(param):
        return (
            "INSERT INTO diagnosis_tasks (job_id, state, attempts, due_at, created_at) "
            f"VALUES ({param}, 'due', 0, {param}, {param}) ON CONFLICT (job_id) DO NOTHING"
        )

    now = utcnow()
    execute("enqueue_diagnosis", render, [job_id, now, now], deferred=True)


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
    if db.is_postgres():
        # Deferred: it reaches the server just before the SELECT, in the same round trip.
        execute("lock_run", _lock_run_sql, [workflow_id], deferred=True)

    def select(param):
        failed = ", ".join(f"'{c}'" for c in FAILED_CONCLUSIONS)
        return (
            "SELECT job_name, failed_steps FROM workflow_jobs "
            f"WHERE workflow_id = {param} AND conclusion IN ({failed}) ORDER BY job_name"
        )

    def update(param):
        return f"UPDATE workflows SET failure_details = {param} WHERE id = {param}"

    failed = execute("failed_jobs", select, [workflow_id]).fetchall()
    details = [{"job": name, "failed_steps": json.loads(steps or "[]")} for name, steps in failed]
    summary = json.dumps(details) if details else None
    execute("failure_details", update, [summary, workflow_id], deferred=True)


def _lock_run_sql(param):
    return f"SELECT 1 FROM workflows WHERE id = {param} FOR NO KEY UPDATE"


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
    new = with_defaults(Pr, row)

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
        return upsert_sql("prs", tuple(new), "pr_number, repo_full_name", updates, newer)(param)

    values = [*new.values(), reopens, moves_head]
    execute(("pr", tuple(row), tuple(new)), render, values, deferred=True)
    return pr_id_for(row["repo_full_name"], row["pr_number"])


def ensure_pr(row):
    """A pull request known only from a run's pull_requests hint: create it if it is new. Its
    time is unknown: the epoch, as the payload parsers write it (never NULL, which the PR list's
    keyset on updated_at could not order alike on SQLite and Postgres)."""
    row = with_defaults(Pr, {**row, "updated_at": row.get("updated_at") or EPOCH})
    columns = tuple(row)
    render = insert_sql("prs", columns, "pr_number, repo_full_name")
    execute(("new_pr", columns), render, list(row.values()), deferred=True)
    return pr_id_for(row["repo_full_name"], row["pr_number"])


def pr_id_for(repo_full_name, pr_number):
    """The id of a repository's PR by number, or None."""

    def render(param):
        return f"SELECT id FROM prs WHERE repo_full_name = {param} AND pr_number = {param}"

    found = execute("pr_id_for", render, [repo_full_name, pr_number]).fetchone()
    return found[0] if found else None


def add_pr_head(pr_id, repo_full_name, head_sha):
    """Remember a head SHA the PR has had (its runs belong to it)."""
    columns = ("pr_id", "repo_full_name", "head_sha")
    render = insert_sql("pr_heads", columns, "repo_full_name, head_sha, pr_id")
    execute("add_pr_head", render, [pr_id, repo_full_name, head_sha], deferred=True)


def lock_commit(repo_full_name, head_sha):
    """Serialise, until commit, the transactions that may link one commit's runs to a PR.

    On Postgres a pull_request delivery and a run delivery for the same commit, in concurrent
    transactions, could each miss the row the other is inserting, and the run would stay
    without its PR. Taken before the transaction's first write, the lock also keeps such
    transactions from deadlocking on each other's rows. SQLite needs nothing: its IMMEDIATE
    transactions already run one at a time.
    """
    if db.is_postgres():
        # Deferred: it reaches the server just before the statement that follows it.
        execute("lock_commit", _lock_commit_sql, [f"{repo_full_name}:{head_sha}"], deferred=True)


def _lock_commit_sql(param):
    return f"SELECT pg_advisory_xact_lock(hashtextextended({param}, 0))"


def lock_commit_unless_linked(row):
    """lock_commit for a run delivery, unless its run attempt is already linked to a PR.

    Every delivery of a run after its first finds the run linked: on a large push's one head
    SHA, hundreds of runs would otherwise queue on one lock, each holding it to its COMMIT. A
    linked run needs no lock: its pr_id is never set back to NULL, so the delivery creates no
    row and links nothing (upsert_workflow returns the pr_id and record_run stops there), and
    its one write, that row's upsert, waits for no lock holder's rows nor a holder for its
    own: link_commit updates only rows whose pr_id IS NULL, and on Postgres an UPDATE skips,
    without waiting for its lock, a row its snapshot sees failing the WHERE. The check and the
    lock are one statement, deferred to travel with the upsert: no round trip of its own.
    """
    if db.is_postgres():
        key = f"{row['repo_full_name']}:{row['head_sha']}"

        def render(param):
            return (
                f"{_lock_commit_sql(param)} WHERE NOT EXISTS (SELECT 1 FROM workflows "
                f"WHERE run_id = {param} AND run_attempt = {param} AND pr_id IS NOT NULL)"
            )

        values = [key, row["run_id"], row["run_attempt"]]
        execute("lock_commit_unless_linked", render, values, deferred=True)


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
        found = execute("pr_of_commit", find, [repo_full_name, head_sha]).fetchone()
        pr_id = found[0] if found else None
    if pr_id is None:
        return None
    commit = [pr_id, repo_full_name, head_sha]
    execute("link_runs", _link_runs_sql, commit, deferred=True)
    execute("link_jobs", _link_jobs_sql, commit, deferred=True)
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
