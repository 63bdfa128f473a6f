"""The poller's own SQL: which PRs are tracked and due, which runs still need their jobs read,
and the marks a pass leaves (reconciled, jobs read, tracking stopped)."""

import datetime

from peewee import fn

from prmonitor.storage import db
from prmonitor.storage.models import (
    EPOCH,
    FAILED_CONCLUSIONS,
    TRACKED,
    Pr,
    Workflow,
    true_first,
    utcnow,
)

# A closed PR whose runs never settle (a run waiting for an approval that never comes) stops
# being polled this long after it closed.
FINAL_PASS_LIMIT = datetime.timedelta(days=1)


def tracked_in(full_name):
    """The condition for a repository's PRs that the poller tracks."""
    return (Pr.repo_full_name == full_name) & Pr.tracking.in_(TRACKED)


def tracked_prs(full_name):
    """The repository's tracked PRs, as Pr rows."""
    return list(Pr.select().where(tracked_in(full_name)))


def tracked_numbers(full_name):
    """The numbers of the repository's tracked PRs."""
    query = Pr.select(Pr.pr_number).where(tracked_in(full_name))
    return {number for (number,) in query.tuples()}


def is_due(pr):
    """Open PRs are reconciled every pass; a closed one once more after it closed
    (upserts.upsert_pr clears reconciled_at when a PR's state or head changes)."""
    return pr.state == "open" or pr.reconciled_at is None


def set_tracking(pr_id, tracking):
    """Record how a PR is tracked: "manual" (`prmonitor start`) or "auto"."""
    Pr.update(tracking=tracking).where(Pr.id == pr_id).execute()


def stop_tracking(pr_id=None, full_name=None):
    """Stop polling one PR, or every tracked PR of a repository; their rows stay."""
    where = (Pr.id == pr_id) if pr_id is not None else tracked_in(full_name)
    with db.writing():
        Pr.update(tracking="stopped").where(where).execute()


# -- closed PRs: their final pass -------------------------------------------------------------


def mark_reconciled(closed_prs):
    """A closed PR's final pass is over once none of its runs is still running or unread (or
    a day after it closed). Open PRs are reconciled every pass and need no mark."""
    settled = set(prs_with_final_runs([pr.id for pr in closed_prs]))
    cutoff = utcnow() - FINAL_PASS_LIMIT
    for pr in closed_prs:
        if pr.id in settled or (pr.updated_at or EPOCH) < cutoff:
            with db.writing():
                # Unless it changed meanwhile (reopened, pushed to): then it is due again.
                Pr.update(reconciled_at=utcnow()).where(
                    (Pr.id == pr.id) & (Pr.state == pr.state) & (Pr.head_sha == pr.head_sha)
                ).execute()


def reopen_final_passes(full_name):
    """A closed PR whose final pass is over is due once more when a run of it is no longer
    final: one that began after that pass, such as a workflow `on: pull_request: types:
    [closed]`, which starts as the PR closes. Within FINAL_PASS_LIMIT, as the pass.
    https://docs.github.com/en/actions/writing-workflows/choosing-when-your-workflow-runs/events-that-trigger-workflows#pull_request
    """
    closed = [
        pr_id
        for (pr_id,) in Pr.select(Pr.id)
        .where(
            tracked_in(full_name)
            & (Pr.state != "open")
            & Pr.reconciled_at.is_null(False)
            & (Pr.updated_at >= utcnow() - FINAL_PASS_LIMIT)
        )
        .tuples()
    ]
    if not closed:
        return
    unsettled = set(closed) - set(prs_with_final_runs(closed))
    if unsettled:
        with db.writing():
            Pr.update(reconciled_at=None).where(Pr.id.in_(unsettled)).execute()


def prs_with_final_runs(pr_ids):
    """Those of `pr_ids` none of whose runs needs its jobs read."""
    unsettled = {
        pr_id
        for (pr_id,) in Workflow.select(Workflow.pr)
        .where(Workflow.run_id.in_(runs_needing_jobs(pr_ids) or [0]))
        .tuples()
    }
    return [pr_id for pr_id in pr_ids if pr_id not in unsettled]


# -- runs --------------------------------------------------------------------------------------


def runs_needing_jobs(pr_ids):
    """Run ids of these PRs whose latest attempt is not final: still running, or its jobs not
    read since it completed. Running ones first, then failed ones, newest first: the order
    they are read in when the budget cannot cover them all."""
    if not pr_ids:
        return []
    latest = (
        Workflow.select(Workflow.run_id, fn.MAX(Workflow.run_attempt).alias("attempt"))
        .where(Workflow.pr.in_(pr_ids))
        .group_by(Workflow.run_id)
    )
    query = (
        Workflow.select(Workflow.run_id)
        .join(
            latest,
            on=(Workflow.run_id == latest.c.run_id) & (Workflow.run_attempt == latest.c.attempt),
        )
        # Set only once an attempt completed and its jobs were read (or it was deleted).
        .where(Workflow.jobs_synced_at.is_null())
        .order_by(
            true_first(Workflow.status != "completed"),
            true_first(Workflow.conclusion.in_(FAILED_CONCLUSIONS)),
            Workflow.run_id.desc(),
        )
    )
    return [run_id for (run_id,) in query.tuples()]


def attempt_statuses(run_id):
    """{run_attempt: status} of the stored attempts of a run."""
    query = Workflow.select(Workflow.run_attempt, Workflow.status).where(Workflow.run_id == run_id)
    return dict(query.tuples())


def completed_attempts(run_id):
    """The run's stored attempts that have completed."""
    return {
        attempt for attempt, status in attempt_statuses(run_id).items() if status == "completed"
    }


def mark_jobs_synced(run_id, attempts=None):
    """These attempts of a run (every one when None) are final: their jobs are not read again.
    A run GitHub no longer has is marked so too."""
    where = Workflow.run_id == run_id
    if attempts is not None:
        where &= Workflow.run_attempt.in_(attempts)
    with db.writing():
        Workflow.update(jobs_synced_at=utcnow()).where(where).execute()


def pr_by_id(pr_id):
    """The Pr row of an id."""
    return Pr.get_by_id(pr_id)
