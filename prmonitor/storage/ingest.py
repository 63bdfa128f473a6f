"""Applying parsed rows: the steps a webhook delivery and a poll share (lock, upsert, link).

Both paths parse with prmonitor.github.payloads and write through these functions only, so a
poll racing a webhook takes the same locks in the same order and cannot move a row backwards.
"""

from prmonitor.storage import evidence, outbox, upserts
from prmonitor.storage.models import (
    FAILED_CONCLUSIONS,
    PLACEHOLDER_RANK,
    Installation,
    Repository,
    utcnow,
)


def record_run(row, hints=()):
    """Store a run attempt (payloads.parse_run) and link it to its PR: the one its head SHA
    belongs to, or the first of `hints` (payloads.pull_request_hints). A run that completed
    makes its PR's notifications due (prmonitor.notify)."""
    upserts.lock_commit_unless_linked(row)
    workflow_id, pr_id, written = upserts.upsert_workflow(row)
    if pr_id is None:
        # Unlinked: the lock was taken (a linked run's pr_id is never cleared), before any write.
        hinted = [_remember_hinted_pr(hint, row) for hint in hints]
        upserts.link_commit(row["repo_full_name"], row["head_sha"], hinted[0] if hinted else None)
    if written and row.get("status") == "completed":
        outbox.mark_commit(row["repo_full_name"], row["head_sha"])
    return workflow_id


def _remember_hinted_pr(hint, run_row):
    """Record a PR the run named (for its own repository and commit); returns its id."""
    pr_id = upserts.ensure_pr(
        {
            **hint,
            "repo_full_name": run_row["repo_full_name"],
            "repo_id": run_row["repo_id"],
            "installation_id": run_row["installation_id"],
        }
    )
    upserts.add_pr_head(pr_id, run_row["repo_full_name"], hint["head_sha"])
    return pr_id


def record_jobs(jobs):
    """Store (row, placeholder) jobs (payloads.parse_job, payloads.run_placeholder) in one
    transaction, each under its run attempt, created from its placeholder when the job came
    first: a delivery's one job, or the poller's read of a run's jobs. A failed job gets its
    diagnosis task (prmonitor.failures) in the same transaction. The failure details of
    their runs come after every job's row. A job's delivery locks its
    job's row and then its run's; a batch that locked the run after its first failed job and
    then waited for another job's row, locked by such a delivery waiting for the run, would
    deadlock with it. (A placeholder run advanced by a job is still locked on the way, but
    the poller stores a run before it reads the run's jobs.)"""
    failed_runs = set()
    for row, placeholder in jobs:
        workflow_id = _store_job(row, placeholder)
        if row["conclusion"] in FAILED_CONCLUSIONS:
            failed_runs.add(workflow_id)
            upserts.enqueue_diagnosis(row["job_id"])
        elif row["conclusion"] == "success" and row["job_name"]:
            # Its failures on this commit, if any, may be flaky: classify them again.
            evidence.outdate_by_commit(row["head_sha"], row["job_name"])
    for workflow_id in sorted(failed_runs):
        upserts.refresh_failure_details(workflow_id)


def _store_job(row, placeholder):
    found = upserts.workflow_state(row["run_id"], row["run_attempt"])
    if found is None or found[1] is None:
        # This job may create a run or link one to its PR: lock before writing, and look
        # again, since the transaction that held the lock may have done either meanwhile.
        upserts.lock_commit(placeholder["repo_full_name"], row["head_sha"])
        found = upserts.workflow_state(row["run_id"], row["run_attempt"])
    workflow_id, pr_id, rank, status = upserts.ensure_workflow(placeholder, found)
    # The job's row before its run's (failure details, the placeholder's status, the link to
    # the PR): a transaction that took them the other way round could deadlock with this one.
    upserts.upsert_job({**row, "workflow_id": workflow_id, "pr_id": pr_id})
    job_started = placeholder["status"] == "in_progress"
    if rank == PLACEHOLDER_RANK and job_started and status != "in_progress":
        upserts.advance_placeholder(workflow_id)
    if pr_id is None:
        upserts.link_commit(placeholder["repo_full_name"], row["head_sha"])
    return workflow_id


# Webhook actions that may, within the second of the stored version, reopen a closed PR or
# move its head (upserts.upsert_pr): a `labeled` sent before a bot's `closed` in the same second
# must not reopen the PR when it arrives late.
# https://docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request
REOPENING_ACTIONS = ("reopened",)
HEAD_MOVING_ACTIONS = ("opened", "reopened", "synchronize")
NOTIFYING_ACTIONS = (*HEAD_MOVING_ACTIONS, "ready_for_review")


def record_pull_request(row, action=None):
    """Store a pull request (payloads.parse_pull_request) and attach its head's runs; returns
    its id. `action` is the webhook's; None for a PR read from the API, GitHub's state now."""
    upserts.lock_commit(row["repo_full_name"], row["head_sha"])
    pr_id = upserts.upsert_pr(
        row,
        reopens=action is None or action in REOPENING_ACTIONS,
        moves_head=action is None or action in HEAD_MOVING_ACTIONS,
    )
    # Every head the PR has had, even from a late event: runs of that commit belong to it.
    upserts.add_pr_head(pr_id, row["repo_full_name"], row["head_sha"])
    upserts.link_commit(row["repo_full_name"], row["head_sha"])
    if action in NOTIFYING_ACTIONS:
        # A new head (its runs may have completed before the PR was known), a draft made ready.
        outbox.mark_pr(pr_id)
    return pr_id


# -- installations ---------------------------------------------------------------------------


def record_installation(row, state="active", added=(), removed=(), complete=False):
    """Store an App installation (payloads.parse_installation) in `state` (active, suspended or
    deleted) and the repositories (payloads.parse_repositories) it gained and lost; with
    `complete`, `added` is its whole list and any other repository of it was removed. A deleted
    installation's repositories are all removed. The webhook's installation events and the
    poller's read of the App's installations both write here."""
    _upsert_installation({**row, "state": state})
    if complete or state == "deleted":
        Repository.update(active=False, updated_at=utcnow()).where(
            Repository.installation_id == row["installation_id"]
        ).execute()
    _set_repositories(added, active=True)
    _set_repositories(removed, active=False)


def _upsert_installation(row):
    fields = [Installation._meta.fields[name] for name in row]
    Installation.insert(**row, updated_at=utcnow()).on_conflict(
        conflict_target=[Installation.installation_id],
        preserve=[*fields, Installation.updated_at],
    ).execute()


def _set_repositories(rows, active):
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
