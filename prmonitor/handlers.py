"""Webhook handlers: parse the payload, upsert the rows, link runs to their pull request."""

import logging

from . import payloads, store
from .models import FAILED_CONCLUSIONS, PLACEHOLDER_RANK
from .routing import Router

log = logging.getLogger(__name__)
router = Router()


@router.register("ping")
def on_ping(event):
    log.info("ping delivery=%s zen=%r", event.delivery_id, event.payload.get("zen"))


@router.register("workflow_run")
def on_workflow_run(event):
    payload = event.payload
    repo, run = payloads.obj(payload, "repository"), payloads.obj(payload, "workflow_run")
    row = payloads.parse_run(
        run, repo, payloads.installation_id(payload), payloads.optional_obj(payload, "workflow")
    )
    store.lock_commit(row["repo_full_name"], row["head_sha"])
    _, pr_id = store.upsert_workflow(row)
    if pr_id is not None:
        return
    hints = payloads.pull_request_hints(run, row["repo_id"])
    hinted = [_remember_hinted_pr(hint, row) for hint in hints]
    store.link_commit(row["repo_full_name"], row["head_sha"], hinted[0] if hinted else None)


def _remember_hinted_pr(hint, run_row):
    """Record a PR the run named (for its own repository and commit); returns its id."""
    pr_id = store.ensure_pr(
        {
            **hint,
            "repo_full_name": run_row["repo_full_name"],
            "repo_id": run_row["repo_id"],
            "installation_id": run_row["installation_id"],
        }
    )
    store.add_pr_head(pr_id, run_row["repo_full_name"], hint["head_sha"])
    return pr_id


@router.register("workflow_job")
def on_workflow_job(event):
    payload = event.payload
    repo, job = payloads.obj(payload, "repository"), payloads.obj(payload, "workflow_job")
    row = payloads.parse_job(job)
    placeholder = payloads.run_placeholder(row, repo, payloads.installation_id(payload))
    found = store.workflow_state(row["run_id"], row["run_attempt"])
    if found is None or found[1] is None:
        # This delivery may create a run or link one to its PR: lock before writing, and look
        # again, since the delivery that held the lock may have done either meanwhile.
        store.lock_commit(placeholder["repo_full_name"], row["head_sha"])
        found = store.workflow_state(row["run_id"], row["run_attempt"])
    workflow_id, pr_id, rank, status = store.ensure_workflow(placeholder, found)
    # The job's row before its run's: every delivery takes the two in this order.
    store.upsert_job({**row, "workflow_id": workflow_id, "pr_id": pr_id})
    job_started = placeholder["status"] == "in_progress"
    if rank == PLACEHOLDER_RANK and job_started and status != "in_progress":
        store.advance_placeholder(workflow_id)
    if row["conclusion"] in FAILED_CONCLUSIONS:
        store.refresh_failure_details(workflow_id)
    if pr_id is None:
        store.link_commit(placeholder["repo_full_name"], row["head_sha"])


@router.register("pull_request")
def on_pull_request(event):
    payload = event.payload
    pr = payloads.obj(payload, "pull_request")
    row = payloads.parse_pull_request(
        pr, payloads.obj(payload, "repository"), payloads.installation_id(payload)
    )
    store.lock_commit(row["repo_full_name"], row["head_sha"])
    pr_id = store.upsert_pr(row)
    # Every head the PR has had, even from a late event: runs of that commit belong to it.
    store.add_pr_head(pr_id, row["repo_full_name"], row["head_sha"])
    store.link_commit(row["repo_full_name"], row["head_sha"])


@router.register("installation")
def on_installation(event):
    payload = event.payload
    installation = payloads.parse_installation(payloads.obj(payload, "installation"))
    state = _INSTALLATION_STATES.get(event.action, "active")
    store.upsert_installation({**installation, "state": state})
    if state == "deleted":
        store.deactivate_installation_repositories(installation["installation_id"])
    if state != "active":
        return
    repos = payloads.parse_repositories(
        payload.get("repositories"), installation["installation_id"]
    )
    store.set_repositories(repos, active=True)


_INSTALLATION_STATES = {"deleted": "deleted", "suspend": "suspended"}


@router.register("installation_repositories")
def on_installation_repositories(event):
    payload = event.payload
    installation = payloads.parse_installation(payloads.obj(payload, "installation"))
    store.upsert_installation({**installation, "state": "active"})
    installation_id = installation["installation_id"]
    added = payloads.parse_repositories(payload.get("repositories_added"), installation_id)
    removed = payloads.parse_repositories(payload.get("repositories_removed"), installation_id)
    store.set_repositories(added, active=True)
    store.set_repositories(removed, active=False)
