"""Pure parsers: GitHub webhook or REST JSON in, row dicts out, shared by webhooks and the poller;
and the slim copies of runs and pull requests that the poller keeps in its ETag store.

Every value is read through the checked readers of fields.py (whose PayloadError, clean_text, obj,
optional_obj and timestamp callers also reach as payloads.X): bad input raises PayloadError,
which the receiver answers with 400.
"""

import json

from prmonitor.github.fields import (
    LONG,
    PayloadError,
    int32,
    integer,
    iso_time,
    latest,
    obj,
    optional_obj,
    strings,
    text,
    timestamp,
)
from prmonitor.github.fields import clean_text as clean_text  # re-exported for webhooks/
from prmonitor.storage.models import EPOCH

# A run or job only moves forward through these. GitHub documents the statuses at
# https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository
# (requested, pending and waiting come before a runner is assigned; unknown ones rank lowest).
STATUS_RANK = {
    "requested": 0,
    "pending": 0,
    "waiting": 0,
    "queued": 1,
    "in_progress": 2,
    "completed": 3,
}


def status_rank(status):
    """Where a status comes in STATUS_RANK; 0 for one GitHub may add later."""
    return STATUS_RANK.get(status, 0)


# -- envelope --------------------------------------------------------------------------------


def repository(repo):
    """(full_name, repo_id) of a repository object."""
    return text(repo, "full_name", required=True), integer(repo, "id")


def installation_id(payload):
    """The App installation a delivery came through; absent on repository webhooks."""
    installation = optional_obj(payload, "installation")
    return integer(installation, "id") if installation else None


# -- workflow runs ---------------------------------------------------------------------------


def parse_run(run, repo, installation=None, workflow=None):
    """A workflow run object (webhook `workflow_run`, or REST) as a `workflows` row."""
    full_name, repo_id = repository(repo)
    status = text(run, "status", required=True)
    updated_at = latest(timestamp(run, "updated_at"), timestamp(run, "created_at"))
    return {
        "run_id": integer(run, "id"),
        "run_attempt": int32(run, "run_attempt") or 1,
        "workflow_name": _run_name(run, workflow),
        "status": status,
        "status_rank": status_rank(status),
        "conclusion": text(run, "conclusion"),
        "head_sha": text(run, "head_sha", required=True),
        "head_branch": text(run, "head_branch", LONG),
        "event": text(run, "event"),
        "html_url": text(run, "html_url", LONG),
        "run_number": int32(run, "run_number"),
        "created_at": timestamp(run, "created_at"),
        "started_at": timestamp(run, "run_started_at"),
        "completed_at": updated_at if status == "completed" else None,
        "updated_at": updated_at,
        "repo_full_name": full_name,
        "repo_id": repo_id,
        "installation_id": installation,
    }


def _run_name(run, workflow):
    # A run's `name` can be empty; the workflow object and the file path name it too.
    name = text(run, "name", LONG)
    if not name and workflow:
        name = text(workflow, "name", LONG)
    return name or text(run, "path", LONG)


def pull_request_hints(run, repo_id):
    """Open PRs named by a run, restricted to the run's own repository and commit.

    `pull_requests` is empty for PRs from forks and can name PRs of other repositories, so it
    is only a hint: https://docs.github.com/en/webhooks/webhook-events-and-payloads#workflow_run
    """
    hints = run.get("pull_requests")
    if not isinstance(hints, list):
        return []
    head_sha = run.get("head_sha")
    found = []
    for hint in hints:
        try:
            found.append(_hint(hint, repo_id, head_sha))
        except PayloadError:
            continue
    return [hint for hint in found if hint]


def _hint(hint, repo_id, head_sha):
    if not isinstance(hint, dict):
        return None
    head, base = obj(hint, "head"), obj(hint, "base")
    if integer(obj(base, "repo"), "id") != repo_id or text(head, "sha") != head_sha:
        return None
    return {
        "pr_number": int32(hint, "number", required=True),
        "head_sha": head_sha,
        "head_ref": text(head, "ref", LONG),
        "base_ref": text(base, "ref", LONG),
        "state": "open",
    }


# -- jobs ------------------------------------------------------------------------------------


def parse_job(job):
    """A job object (webhook `workflow_job`, or REST list-jobs) as a `workflow_jobs` row."""
    status = text(job, "status", required=True)
    steps = _steps(job.get("steps"))
    failed = [step["name"] for step in steps if step["conclusion"] == "failure"]
    created, started, completed = (timestamp(job, k) for k in _JOB_TIMES)
    return {
        "job_id": integer(job, "id"),
        "run_id": integer(job, "run_id"),
        "run_attempt": int32(job, "run_attempt") or 1,
        "job_name": text(job, "name", LONG),
        "workflow_name": text(job, "workflow_name", LONG),
        "status": status,
        "status_rank": status_rank(status),
        "conclusion": text(job, "conclusion"),
        "head_sha": text(job, "head_sha", required=True),
        "html_url": text(job, "html_url", LONG),
        "runner_name": text(job, "runner_name", LONG),
        "labels": json.dumps(strings(job, "labels")),
        "steps": json.dumps(steps),
        "failed_steps": json.dumps(failed),
        # The seed's behaviour: the first failed step names the error until logs are read.
        "error_message": failed[0] if failed else None,
        "created_at": created,
        "started_at": started,
        "completed_at": completed,
        # Jobs carry no updated_at; their latest own timestamp orders events of equal status.
        "updated_at": latest(created, started, completed),
    }


_JOB_TIMES = ("created_at", "started_at", "completed_at")


def _steps(steps):
    if steps is None:
        return []
    if not isinstance(steps, list):
        raise PayloadError("'steps' must be a list")
    return [_step(step) for step in steps]


def _step(step):
    if not isinstance(step, dict):
        raise PayloadError("each step must be an object")
    return {
        "number": int32(step, "number"),
        "name": text(step, "name", LONG) or "",
        "status": text(step, "status"),
        "conclusion": text(step, "conclusion"),
        "started_at": iso_time(step, "started_at"),
        "completed_at": iso_time(step, "completed_at"),
    }


def run_placeholder(job, repo, installation=None):
    """The `workflows` row implied by a job whose run has not been seen yet."""
    full_name, repo_id = repository(repo)
    repo_url = text(repo, "html_url", LONG) or f"https://github.com/{full_name}"
    return {
        "run_id": job["run_id"],
        "run_attempt": job["run_attempt"],
        "workflow_name": job["workflow_name"],
        "status": "queued" if job["status_rank"] < STATUS_RANK["in_progress"] else "in_progress",
        "status_rank": -1,
        "head_sha": job["head_sha"],
        "html_url": f"{repo_url}/actions/runs/{job['run_id']}",
        "repo_full_name": full_name,
        "repo_id": repo_id,
        "installation_id": installation,
        "updated_at": EPOCH,
    }


# -- pull requests ---------------------------------------------------------------------------


def parse_pull_request(pr, repo, installation=None):
    """A pull request object (webhook `pull_request`, or REST) as a `prs` row."""
    full_name, repo_id = repository(repo)
    head, base = obj(pr, "head"), obj(pr, "base")
    user = optional_obj(pr, "user") or {}
    merged = pr.get("merged") is True or pr.get("merged_at") is not None
    state = text(pr, "state", required=True)
    return {
        "pr_number": int32(pr, "number", required=True),
        "repo_full_name": full_name,
        "repo_id": repo_id,
        "installation_id": installation,
        "title": text(pr, "title", LONG),
        "author": text(user, "login"),
        "head_sha": text(head, "sha", required=True),
        "head_ref": text(head, "ref", LONG),
        "base_ref": text(base, "ref", LONG),
        "state": "merged" if merged else state,
        "html_url": text(pr, "html_url", LONG),
        "updated_at": timestamp(pr, "updated_at") or EPOCH,
        "draft": pr.get("draft") is True,
        "body": text(pr, "body", LONG),
    }


# -- installations ---------------------------------------------------------------------------


def parse_installation(installation):
    """An installation object (webhook or GET /app/installations) as an `installations` row."""
    account = optional_obj(installation, "account") or {}
    return {
        "installation_id": integer(installation, "id"),
        "account_login": text(account, "login"),
        "account_type": text(account, "type"),
    }


def parse_repositories(repos, installation):
    """`repositories`, `repositories_added` or `repositories_removed` as `repositories` rows."""
    if repos is None:
        return []
    if not isinstance(repos, list):
        raise PayloadError("repositories must be a list")
    rows = []
    for repo in repos:
        if not isinstance(repo, dict):
            raise PayloadError("each repository must be an object")
        full_name, repo_id = repository(repo)
        rows.append({"repo_id": repo_id, "full_name": full_name, "installation_id": installation})
    return rows


# -- the slim copies the poller keeps ---------------------------------------------------------
# The poller keeps GitHub's answers in its ETag store (poll/etags.py), for a 304 to stand for
# them: only what the parsers above read of a run (parse_run, pull_request_hints) and of a pull
# request (parse_pull_request). tests/github/test_slim_copies.py fails when a parser reads a
# key a copy drops.
RUN_KEYS = (
    "id",
    "name",
    "path",
    "run_attempt",
    "run_number",
    "status",
    "conclusion",
    "head_sha",
    "head_branch",
    "event",
    "html_url",
    "created_at",
    "updated_at",
    "run_started_at",
    "pull_requests",
)
PULL_KEYS = (
    "number",
    "state",
    "title",
    "html_url",
    "updated_at",
    "merged_at",
    "merged",
    "draft",
    "body",
)


def slim_run(run):
    """What the parsers read of a workflow run object."""
    return {key: run[key] for key in RUN_KEYS if key in run}


def slim_pull(pull):
    """What parse_pull_request reads of a pull request object."""
    slim = {key: pull[key] for key in PULL_KEYS if key in pull}
    slim["user"] = {"login": (pull.get("user") or {}).get("login")}
    slim["head"] = {key: (pull.get("head") or {}).get(key) for key in ("sha", "ref")}
    slim["base"] = {"ref": (pull.get("base") or {}).get("ref")}
    return slim
