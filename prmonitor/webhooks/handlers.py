"""Webhook handlers: parse the payload and return the Write that stores its rows (see routing).

https://docs.github.com/en/webhooks/webhook-events-and-payloads
"""

import logging

from prmonitor.github import payloads
from prmonitor.storage import ingest
from prmonitor.webhooks.routing import Router, Write

log = logging.getLogger(__name__)
router = Router()


@router.register("ping")
def on_ping(event):
    """GitHub's hello when the webhook is created: nothing to store."""
    zen = event.payload.get("zen")
    log.info(
        "ping delivery=%s zen=%r", event.delivery_id, zen[:100] if isinstance(zen, str) else zen
    )


@router.register("workflow_run")
def on_workflow_run(event):
    """A run attempt requested, in progress or completed."""
    payload = event.payload
    repo, run = payloads.obj(payload, "repository"), payloads.obj(payload, "workflow_run")
    row = payloads.parse_run(
        run, repo, payloads.installation_id(payload), payloads.optional_obj(payload, "workflow")
    )
    return Write(ingest.record_run, (row, payloads.pull_request_hints(run, row["repo_id"])))


@router.register("workflow_job")
def on_workflow_job(event):
    """A job queued, in progress or completed (it may arrive before its run)."""
    payload = event.payload
    repo, job = payloads.obj(payload, "repository"), payloads.obj(payload, "workflow_job")
    row = payloads.parse_job(job)
    placeholder = payloads.run_placeholder(row, repo, payloads.installation_id(payload))
    return Write(ingest.record_jobs, ([(row, placeholder)],))


@router.register("pull_request")
def on_pull_request(event):
    """A pull request opened, pushed to, edited, closed, reopened..."""
    payload = event.payload
    pr = payloads.obj(payload, "pull_request")
    row = payloads.parse_pull_request(
        pr, payloads.obj(payload, "repository"), payloads.installation_id(payload)
    )
    # A delivery without an action is still a webhook, never the API's current state.
    return Write(ingest.record_pull_request, (row, event.action or ""))


# https://docs.github.com/en/webhooks/webhook-events-and-payloads#installation
_INSTALLATION_STATES = {"deleted": "deleted", "suspend": "suspended"}


@router.register("installation")
def on_installation(event):
    """The App installed (with its repositories), suspended, unsuspended or uninstalled."""
    payload = event.payload
    installation = payloads.parse_installation(payloads.obj(payload, "installation"))
    state = _INSTALLATION_STATES.get(event.action, "active")
    repos = []
    if state == "active":
        repos = payloads.parse_repositories(
            payload.get("repositories"), installation["installation_id"]
        )
    return Write(ingest.record_installation, (installation, state, repos))


@router.register("installation_repositories")
def on_installation_repositories(event):
    """Repositories added to or removed from an installation."""
    payload = event.payload
    installation = payloads.parse_installation(payloads.obj(payload, "installation"))
    installation_id = installation["installation_id"]
    added = payloads.parse_repositories(payload.get("repositories_added"), installation_id)
    removed = payloads.parse_repositories(payload.get("repositories_removed"), installation_id)
    return Write(ingest.record_installation, (installation, "active", added, removed))
