"""Webhook handlers: parse the payload, and return the writes that upsert its rows and link runs
to their pull request (routing.Router runs them in the delivery's transaction)."""

import functools
import logging

from prmonitor.github import payloads
from prmonitor.storage import ingest, upserts
from prmonitor.webhooks.routing import Router

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
    return functools.partial(
        ingest.record_run, row, payloads.pull_request_hints(run, row["repo_id"])
    )


@router.register("workflow_job")
def on_workflow_job(event):
    payload = event.payload
    repo, job = payloads.obj(payload, "repository"), payloads.obj(payload, "workflow_job")
    row = payloads.parse_job(job)
    placeholder = payloads.run_placeholder(row, repo, payloads.installation_id(payload))
    return functools.partial(ingest.record_job, row, placeholder)


@router.register("pull_request")
def on_pull_request(event):
    payload = event.payload
    pr = payloads.obj(payload, "pull_request")
    row = payloads.parse_pull_request(
        pr, payloads.obj(payload, "repository"), payloads.installation_id(payload)
    )
    # A delivery without an action is still a webhook, never the API's current state.
    return functools.partial(ingest.record_pull_request, row, event.action or "")


@router.register("installation")
def on_installation(event):
    payload = event.payload
    installation = payloads.parse_installation(payloads.obj(payload, "installation"))
    state = _INSTALLATION_STATES.get(event.action, "active")
    installation_id = installation["installation_id"]
    repos = []
    if state == "active":
        repos = payloads.parse_repositories(payload.get("repositories"), installation_id)

    def write():
        upserts.upsert_installation({**installation, "state": state})
        if state == "deleted":
            upserts.deactivate_installation_repositories(installation_id)
        upserts.set_repositories(repos, active=True)

    return write


_INSTALLATION_STATES = {"deleted": "deleted", "suspend": "suspended"}


@router.register("installation_repositories")
def on_installation_repositories(event):
    payload = event.payload
    installation = payloads.parse_installation(payloads.obj(payload, "installation"))
    installation_id = installation["installation_id"]
    added = payloads.parse_repositories(payload.get("repositories_added"), installation_id)
    removed = payloads.parse_repositories(payload.get("repositories_removed"), installation_id)

    def write():
        upserts.upsert_installation({**installation, "state": "active"})
        upserts.set_repositories(added, active=True)
        upserts.set_repositories(removed, active=False)

    return write
