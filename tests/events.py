"""Webhook payloads for tests: the project's fixtures (tests/fixtures/<event>.<action>.json),
deep-copied with only the fields a test cares about changed, and GitHub's published examples."""

import copy
import json
import os
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
OCTOKIT = Path(
    os.environ.get("PRMONITOR_GITHUB_PAYLOADS")
    or Path(__file__).resolve().parents[2] / "shared" / "github-payloads"
)
SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
# The events the contract says the receiver handles (any other is answered 202).
HANDLED_EVENTS = [
    "workflow_run",
    "workflow_job",
    "pull_request",
    "installation",
    "installation_repositories",
    "ping",
]


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def octokit_webhooks():
    """(event, path) for every published webhook example, or [] when the folder is absent."""
    root = OCTOKIT / "webhooks"
    if not root.is_dir():
        return []
    return sorted((path.parent.name, path) for path in root.glob("*/*.json"))


def _event(name, key, action, fields, repo=None):
    payload = fixture(f"{name}.completed" if name != "pull_request" else "pull_request.opened")
    payload["action"] = action
    payload[key].update(copy.deepcopy(fields))
    if repo:
        owner, short = repo.split("/")
        payload["repository"].update(
            full_name=repo,
            name=short,
            id=abs(hash(repo)) % 10**9,
            html_url=f"https://github.com/{repo}",
        )
    return payload


def run_event(action="completed", repo=None, **fields):
    """A workflow_run delivery; `status` follows the action unless given."""
    fields.setdefault("status", {"requested": "queued"}.get(action, action))
    if fields["status"] != "completed":
        fields.setdefault("conclusion", None)
    payload = _event("workflow_run", "workflow_run", action, fields, repo)
    if repo:
        for hint in payload["workflow_run"]["pull_requests"]:
            hint["base"]["repo"]["id"] = payload["repository"]["id"]
    return payload


def job_event(action="completed", repo=None, **fields):
    """A workflow_job delivery; in-flight states drop the conclusion and later timestamps."""
    fields.setdefault("status", action)
    if fields["status"] != "completed":
        fields.setdefault("conclusion", None)
        fields.setdefault("completed_at", None)
        if fields["status"] != "in_progress":
            fields.setdefault("started_at", None)
            fields.setdefault("steps", [])
            fields.setdefault("runner_name", None)
    return _event("workflow_job", "workflow_job", action, fields, repo)


def pr_event(action="opened", repo=None, **fields):
    payload = _event("pull_request", "pull_request", action, fields, repo)
    payload["number"] = payload["pull_request"]["number"]
    return payload


def steps(*results):
    """Job steps named "step 1".. with the given conclusions."""
    return [
        {
            "name": f"step {n}",
            "status": "completed",
            "conclusion": result,
            "number": n,
            "started_at": "2026-11-20T10:00:10Z",
            "completed_at": "2026-11-20T10:00:20Z",
        }
        for n, result in enumerate(results, start=1)
    ]
