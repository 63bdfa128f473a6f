"""Pure parsers: GitHub webhook or REST JSON in, row dicts out. Shared by webhooks and the poller.

Every value is checked for type and range here, so that nothing a sender can put in a payload
reaches the database as something it would refuse (a 64-bit overflow, a NUL byte in text, a
string longer than a column): bad input raises PayloadError, which the receiver answers with 400.
"""

import datetime
import json
import re

from prmonitor.storage.models import EPOCH

MAX_BIGINT = 2**63 - 1
SHORT = 255  # CharField columns are VARCHAR(255) on Postgres
LONG = 65536

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


class PayloadError(ValueError):
    """A payload that does not have the shape GitHub documents."""


def status_rank(status):
    return STATUS_RANK.get(status, 0)


# -- field readers ---------------------------------------------------------------------------


def obj(data, key):
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        raise PayloadError(f"'{key}' must be an object")
    return value


def optional_obj(data, key):
    value = data.get(key)
    return value if isinstance(value, dict) else None


def integer(data, key, required=True):
    value = data.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BIGINT:
        raise PayloadError(f"'{key}' must be a non-negative 64-bit integer")
    return value


def text(data, key, limit=SHORT, required=False):
    value = data.get(key)
    if value is None:
        if required:
            raise PayloadError(f"'{key}' is required")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"'{key}' must be a string")
    return clean_text(value)[:limit]


def clean_text(value):
    """Drop what no database stores: NUL characters and unpaired UTF-16 surrogates."""
    if value.isascii() and "\x00" not in value:
        return value  # nearly every value GitHub sends: nothing to drop
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


# GitHub's usual forms, 2026-11-20T10:00:00Z and (job steps) 2026-11-20T10:00:00.000Z: UTC
# already, after 1970, and the first 19 characters are the time at one-second resolution.
_PLAIN_UTC = re.compile(r"(?:19[7-9]\d|2\d{3})-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z", re.ASCII)


def timestamp(data, key):
    """GitHub's ISO 8601 time as naive UTC at one-second resolution, or None."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"'{key}' must be an ISO 8601 time")
    try:
        if _PLAIN_UTC.fullmatch(value):
            return datetime.datetime.fromisoformat(value[:19])
        parsed = datetime.datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise PayloadError(f"'{key}' must be an ISO 8601 time") from None
    if parsed.year < 1970:
        # Nothing on GitHub is that old, and SQLite orders stored times as text: keep 4 digits.
        raise PayloadError(f"'{key}' is before 1970")
    return parsed.replace(microsecond=0)


def iso_time(data, key):
    """timestamp() as ISO 8601 text (2026-11-20T10:00:00), as job steps store their times."""
    parsed = timestamp(data, key)
    return parsed.isoformat() if parsed else None


def latest(*times):
    present = [t for t in times if t is not None]
    return max(present) if present else EPOCH


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
        "run_attempt": _int32(run, "run_attempt") or 1,
        "workflow_name": _run_name(run, workflow),
        "status": status,
        "status_rank": status_rank(status),
        "conclusion": text(run, "conclusion"),
        "head_sha": text(run, "head_sha", required=True),
        "head_branch": text(run, "head_branch", LONG),
        "event": text(run, "event"),
        "html_url": text(run, "html_url", LONG),
        "run_number": _int32(run, "run_number"),
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


def _int32(data, key, required=False):
    value = integer(data, key, required=required)
    if value is not None and value > 2**31 - 1:
        raise PayloadError(f"'{key}' is out of range")
    return value


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
        "pr_number": _int32(hint, "number", required=True),
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
        "run_attempt": _int32(job, "run_attempt") or 1,
        "job_name": text(job, "name", LONG),
        "workflow_name": text(job, "workflow_name", LONG),
        "status": status,
        "status_rank": status_rank(status),
        "conclusion": text(job, "conclusion"),
        "head_sha": text(job, "head_sha", required=True),
        "html_url": text(job, "html_url", LONG),
        "runner_name": text(job, "runner_name", LONG),
        "labels": json.dumps(_labels(job.get("labels"))),
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
        "number": _int32(step, "number"),
        "name": text(step, "name", LONG) or "",
        "status": text(step, "status"),
        "conclusion": text(step, "conclusion"),
        "started_at": iso_time(step, "started_at"),
        "completed_at": iso_time(step, "completed_at"),
    }


def _labels(labels):
    if labels is None:
        return []
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise PayloadError("'labels' must be a list of strings")
    return [clean_text(label)[:SHORT] for label in labels]


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
        "pr_number": _int32(pr, "number", required=True),
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
    }


# -- installations ---------------------------------------------------------------------------


def parse_installation(installation):
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
PULL_KEYS = ("number", "state", "title", "html_url", "updated_at", "merged_at", "merged")


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
