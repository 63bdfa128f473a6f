"""A loopback fake of GitHub's REST API and webhooks: the truth prmonitor's tests check against."""

import copy
import datetime
import hashlib
import json
import math
import re
import secrets
import string
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

# Objects carry github.com's URLs, as GitHub.com sends them; only Link headers point at the fake.
API = "https://api.github.com"
WEB = "https://github.com"
DOCS = "https://docs.github.com/rest"
# The fake clock starts a day before the real one: deliveries stay inside GitHub's three-day
# redelivery window, and every fake time is in the past.
CLOCK_LEAD = datetime.timedelta(days=1)
HOURLY_LIMIT = 5000
DEFAULT_PER_PAGE = 30
STEP_NAMES = ("Set up job", "Run tests", "Complete job")
# A run fails when a job failed or timed out:
# https://docs.github.com/en/rest/actions/workflow-jobs#get-a-job-for-a-workflow-run
FAILED = ("failure", "timed_out")
PERMISSIONS = {"actions": "read", "checks": "read", "metadata": "read", "pull_requests": "write"}
# https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
SECONDARY_LIMIT = (
    "You have exceeded a secondary rate limit and have been temporarily blocked from content "
    "creation. Please retry your request again later."
)
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
PRIMARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
JWT_ERROR = "A JSON web token could not be decoded"
REPO = r"/repos/([^/]+/[^/]+)"
# First ids of each kind: far apart, so that a run id used as a job id finds nothing.
FIRST_IDS = {
    "user": 9_000,
    "workflow": 160_000,
    "repo": 500_000,
    "pr": 1_000_000,
    "delivery": 12_000_000_000,
    "run": 7_000_000_000,
    "job": 30_000_000_000,
}


class WebhookEvent(NamedTuple):
    """One delivery GitHub would have made: X-GitHub-Event, the JSON body, X-GitHub-Delivery."""

    name: str
    payload: dict
    guid: str

    @property
    def action(self):
        return self.payload.get("action")


class Call(NamedTuple):
    method: str
    path: str
    query: dict
    status: int
    auth: str | None  # "jwt", "installation", "personal" or None: the credential presented


@dataclass
class Fault:
    pattern: re.Pattern
    method: str | None
    status: int | None
    times: int
    retry_after: int | None
    delay: float | None
    body: object


@dataclass
class Exchange:
    """One request being answered, and what its credential turned out to be."""

    request: Request
    auth: str | None = None
    credential: str | None = None
    installation_id: int | None = None
    bucket: tuple | None = None  # set only for a valid installation or personal token
    after: list = field(default_factory=list)  # run once the lock is released


class FakeGitHub:
    """GitHub as far as prmonitor sees it: a WSGI app over the truth the builders create.

    `runs[run_id]` is the run's state: its fixed fields, the current attempt's `run_attempt`,
    `status`, `conclusion`, `updated_at`, `run_started_at` and `job_ids`, and `attempts`, a
    snapshot of those per attempt. `jobs[job_id]` is the job exactly as the REST API serves it.
    `prs[(full_name, number)]`, `repos[full_name]` and `installations[id]` hold the REST objects.
    """

    def __init__(self, app_id=1234, private_key_pem=None, token_lifetime=3600, page_limit=100):
        self.app_id = int(app_id)
        self.private_key_pem = private_key_pem or _new_private_key()
        key = serialization.load_pem_private_key(self.private_key_pem.encode(), None)
        self._public_key = key.public_key()
        self.token_lifetime = token_lifetime
        self.page_limit = page_limit
        self._lock = threading.RLock()
        self._now = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - CLOCK_LEAD
        self._next_ids = dict(FIRST_IDS)
        self._init_truth()
        self._init_service()

    def _init_truth(self):
        self.installations, self.repos, self.prs = {}, {}, {}
        self.runs, self.jobs = {}, {}
        self.events, self.deliveries, self.redelivered = [], [], []
        self._repo_installation, self._forks, self._users = {}, {}, {}
        self._events_by_guid, self._run_numbers, self._workflow_ids = {}, {}, {}

    def _init_service(self):
        self.calls, self.errors = [], []  # errors: exceptions raised while answering
        self.on_redeliver = None
        self.manifest_codes = set()  # codes /app-manifests/{code}/conversions accepts, once
        self._tokens, self._personal, self._buckets, self._faults = {}, set(), {}, []
        self._rate_default = None

    # -- clock and ids ---------------------------------------------------------------------

    def _tick(self):
        """One change: the fake clock moves 1 s; returns the new time as GitHub writes it."""
        self._now += datetime.timedelta(seconds=1)
        return _iso(self._now)

    def advance_clock(self, delta):
        """Time passes on GitHub's side (a timedelta) without a change."""
        with self._lock:
            self._now += delta

    def _new_id(self, kind):
        self._next_ids[kind] += 1
        return self._next_ids[kind]

    def _user(self, login, kind="User"):
        if login not in self._users:
            self._users[login] = {"login": login, "id": self._new_id("user"), "type": kind}
        return dict(self._users[login])

    # -- installations and repositories ----------------------------------------------------

    def add_installation(self, installation_id, login="octo-org", account_type="Organization"):
        with self._lock:
            now = self._tick()
            if installation_id in self.installations:
                raise ValueError(f"installation {installation_id} exists")
            account = self._user(login, account_type)
            self.installations[installation_id] = {
                "id": installation_id,
                "account": account,
                "app_id": self.app_id,
                "app_slug": "prmonitor",
                "target_id": account["id"],
                "target_type": account_type,
                "repository_selection": "selected",
                "access_tokens_url": f"{API}/app/installations/{installation_id}/access_tokens",
                "repositories_url": f"{API}/installation/repositories",
                "html_url": f"{WEB}/organizations/{login}/settings/installations/{installation_id}",
                "permissions": dict(PERMISSIONS),
                "events": ["pull_request", "workflow_job", "workflow_run"],
                "created_at": now,
                "updated_at": now,
                "suspended_at": None,
            }
            installation = copy.deepcopy(self.installations[installation_id])
            body = {"installation": installation, "repositories": []}
            self._emit("installation", "created", body, sender=login)
            return installation

    def add_repo(self, full_name, installation_id=None):
        with self._lock:
            self._tick()
            if full_name in self.repos:
                raise ValueError(f"{full_name} exists")
            if installation_id is not None and installation_id not in self.installations:
                raise ValueError(f"unknown installation {installation_id}")
            owner, name = full_name.split("/")
            repo = self._repo_object(self._user(owner, self._account_type(owner)), name)
            self.repos[full_name] = repo
            self._repo_installation[full_name] = installation_id
            if installation_id is not None:
                self._emit_installation_repositories("added", installation_id, repo)
            return copy.deepcopy(repo)

    def remove_repo_from_installation(self, full_name):
        with self._lock:
            self._tick()
            installation_id = self._repo_installation.get(full_name)
            if installation_id is None:
                raise ValueError(f"{full_name} belongs to no installation")
            self._repo_installation[full_name] = None
            self._emit_installation_repositories("removed", installation_id, self.repos[full_name])

    def _account_type(self, login):
        types = {i["account"]["login"]: i["target_type"] for i in self.installations.values()}
        return types.get(login, "User")

    def _repo_object(self, owner, name, fork=False):
        full_name = f"{owner['login']}/{name}"
        repo_id = self._new_id("repo")
        return {
            "id": repo_id,
            "node_id": f"R_{repo_id}",
            "name": name,
            "full_name": full_name,
            "private": False,
            "owner": owner,
            "html_url": f"{WEB}/{full_name}",
            "url": f"{API}/repos/{full_name}",
            "fork": fork,
            "default_branch": "main",
        }

    def _emit_installation_repositories(self, action, installation_id, repo):
        # https://docs.github.com/en/webhooks/webhook-events-and-payloads#installation_repositories
        # (no top-level "repository": the repositories are listed instead).
        short = {k: repo[k] for k in ("id", "node_id", "name", "full_name", "private")}
        installation = self.installations[installation_id]
        body = {
            "installation": copy.deepcopy(installation),
            "repository_selection": "selected",
            "repositories_added": [short] if action == "added" else [],
            "repositories_removed": [short] if action == "removed" else [],
            "requester": None,
        }
        self._emit(
            "installation_repositories", action, body, sender=installation["account"]["login"]
        )

    def _repo(self, full_name):
        if full_name not in self.repos:
            raise ValueError(f"unknown repository {full_name}")
        return self.repos[full_name]

    # -- pull requests ---------------------------------------------------------------------

    def open_pr(
        self,
        full_name,
        number=None,
        head_sha=None,
        title=None,
        author="octocat",
        head_ref=None,
        base_ref="main",
        fork=False,
    ):
        with self._lock:
            now = self._tick()
            repo = self._repo(full_name)
            number = number or 1 + max((n for f, n in self.prs if f == full_name), default=0)
            if (full_name, number) in self.prs:
                raise ValueError(f"{full_name}#{number} exists")
            head_repo = self._fork(repo, author) if fork else repo
            pr_id = self._new_id("pr")
            pr = {
                "url": f"{API}/repos/{full_name}/pulls/{number}",
                "id": pr_id,
                "node_id": f"PR_{pr_id}",
                "number": number,
                "state": "open",
                "title": title or f"Change number {number}",
                "user": self._user(author),
                "html_url": f"{WEB}/{full_name}/pull/{number}",
                "draft": False,
                "created_at": now,
                "updated_at": now,
                "closed_at": None,
                "merged_at": None,
                "merge_commit_sha": None,
                "head": _branch(head_repo, head_ref or f"feature-{number}", head_sha or _sha()),
                "base": _branch(repo, base_ref, _sha()),
                "merged": False,
            }
            self.prs[(full_name, number)] = pr
            self._emit_pr("opened", pr)
            return copy.deepcopy(pr)

    def _fork(self, repo, author):
        # One fork per author and repository, as on GitHub.
        key = (repo["full_name"], author)
        if key not in self._forks:
            self._forks[key] = self._repo_object(self._user(author), repo["name"], fork=True)
        return self._forks[key]

    def push(self, full_name, number, head_sha=None):
        with self._lock:
            now = self._tick()
            pr = self._open_pr(full_name, number)
            before, after = pr["head"]["sha"], head_sha or _sha()
            pr["head"]["sha"] = after
            pr["updated_at"] = now
            self._emit_pr("synchronize", pr, before=before, after=after)
            return after

    def close_pr(self, full_name, number, merged=False):
        with self._lock:
            now = self._tick()
            pr = self._open_pr(full_name, number)
            pr.update(state="closed", closed_at=now, updated_at=now, merged=merged)
            if merged:
                pr.update(merged_at=now, merge_commit_sha=_sha())
            self._emit_pr("closed", pr)

    def reopen_pr(self, full_name, number):
        with self._lock:
            now = self._tick()
            pr = self._pr(full_name, number)
            if pr["state"] != "closed" or pr["merged"]:
                raise ValueError(f"{full_name}#{number} is not closed unmerged")
            pr.update(state="open", closed_at=None, updated_at=now)
            self._emit_pr("reopened", pr)

    def _pr(self, full_name, number):
        if (full_name, number) not in self.prs:
            raise ValueError(f"unknown pull request {full_name}#{number}")
        return self.prs[(full_name, number)]

    def _open_pr(self, full_name, number):
        pr = self._pr(full_name, number)
        if pr["state"] != "open":
            raise ValueError(f"{full_name}#{number} is closed")
        return pr

    def _emit_pr(self, action, pr, **extra):
        body = {"number": pr["number"], "pull_request": pr, **extra}
        full_name = pr["base"]["repo"]["full_name"]
        self._emit("pull_request", action, body, full_name, pr["user"]["login"])

    def _pr_for_sha(self, full_name, head_sha):
        """The open PR of the repository whose head is `head_sha`, else any such PR, else None."""
        found = [
            pr
            for (name, _), pr in self.prs.items()
            if name == full_name and pr["head"]["sha"] == head_sha
        ]
        found.sort(key=lambda pr: pr["state"] != "open")
        return found[0] if found else None

    # -- workflow runs and jobs ------------------------------------------------------------

    def add_run(
        self,
        full_name,
        head_sha,
        name="CI",
        jobs=("build", "test"),
        event="pull_request",
        status="queued",
    ):
        with self._lock:
            now = self._tick()
            repo = self._repo(full_name)
            pr = self._pr_for_sha(full_name, head_sha)
            run_id = self._new_id("run")
            self._run_numbers[full_name] = self._run_numbers.get(full_name, 0) + 1
            self.runs[run_id] = {
                "id": run_id,
                "full_name": full_name,
                "name": name,
                "path": f".github/workflows/{re.sub(r'[^a-z0-9]+', '-', name.lower())}.yml",
                "workflow_id": self._workflow_id(full_name, name),
                "head_sha": head_sha,
                "head_branch": pr["head"]["ref"] if pr else repo["default_branch"],
                "head_repository": pr["head"]["repo"] if pr else repo,
                "event": event,
                "run_number": self._run_numbers[full_name],
                "display_title": pr["title"] if pr else f"Commit {head_sha[:7]}",
                "actor": pr["user"]["login"] if pr else "octocat",
                "created_at": now,
                "job_names": list(jobs),
                "attempts": [],
            }
            self._new_attempt(self.runs[run_id], 1, status, now)
            return self.run_object(run_id)

    def _workflow_id(self, full_name, name):
        key = (full_name, name)
        if key not in self._workflow_ids:
            self._workflow_ids[key] = self._new_id("workflow")
        return self._workflow_ids[key]

    def _new_attempt(self, run, attempt, status, now):
        """Queue new jobs; GitHub sends the run's "requested", then each job's "queued"."""
        run.update(run_attempt=attempt, status=status, conclusion=None)
        run.update(updated_at=now, run_started_at=now)
        run["job_ids"] = [self._new_job(run, name, now) for name in run["job_names"]]
        run["attempts"].append({})
        self._save_attempt(run)
        self._emit_run("requested", run)
        for job_id in run["job_ids"]:
            self._emit_job("queued", self.jobs[job_id])

    def _save_attempt(self, run):
        keys = ("run_attempt", "status", "conclusion", "updated_at", "run_started_at", "job_ids")
        run["attempts"][run["run_attempt"] - 1] = copy.deepcopy({k: run[k] for k in keys})

    def _new_job(self, run, name, now):
        job_id, full_name, run_id = self._new_id("job"), run["full_name"], run["id"]
        self.jobs[job_id] = {
            "id": job_id,
            "run_id": run_id,
            "run_url": f"{API}/repos/{full_name}/actions/runs/{run_id}",
            "run_attempt": run["run_attempt"],
            "node_id": f"CR_{job_id}",
            "head_sha": run["head_sha"],
            "head_branch": run["head_branch"],
            "url": f"{API}/repos/{full_name}/actions/jobs/{job_id}",
            "html_url": f"{WEB}/{full_name}/actions/runs/{run_id}/job/{job_id}",
            "status": "queued",
            "conclusion": None,
            "created_at": now,
            "started_at": None,
            "completed_at": None,
            "name": name,
            "steps": [],
            "labels": ["ubuntu-latest"],
            "runner_id": None,
            "runner_name": None,
            "workflow_name": run["name"],
        }
        return job_id

    def start_job(self, job_id):
        with self._lock:
            now = self._tick()
            job = self._job(job_id)
            if job["status"] != "queued":
                raise ValueError(f"job {job_id} is {job['status']}, not queued")
            job.update(status="in_progress", started_at=now, steps=_started_steps(now))
            job.update(runner_id=1, runner_name="GitHub Actions 1")
            self._emit_job("in_progress", job)
            run = self.runs[job["run_id"]]
            if run["status"] != "in_progress" and job["run_attempt"] == run["run_attempt"]:
                run.update(status="in_progress", updated_at=now)
                self._save_attempt(run)
                self._emit_run("in_progress", run)

    def finish_job(self, job_id, conclusion="success", failed_step=None):
        with self._lock:
            job = self._job(job_id)
            if job["status"] == "completed":
                raise ValueError(f"job {job_id} is already completed")
            # A job that ends with a result ran first; one cancelled or skipped in the queue
            # never started and has no steps.
            if job["status"] == "queued" and conclusion not in ("cancelled", "skipped"):
                self.start_job(job_id)
            now = self._tick()
            steps = _finished_steps(job, conclusion, failed_step, now) if job["started_at"] else []
            job.update(status="completed", conclusion=conclusion, completed_at=now, steps=steps)
            job["started_at"] = job["started_at"] or now
            self._emit_job("completed", job)
            self._complete_run_if_done(self.runs[job["run_id"]], now)

    def _complete_run_if_done(self, run, now):
        jobs = [self.jobs[job_id] for job_id in run["job_ids"]]
        if run["status"] == "completed" or any(j["status"] != "completed" for j in jobs):
            return
        conclusions = {job["conclusion"] for job in jobs}
        conclusion = "success"
        if conclusions & set(FAILED):
            conclusion = "failure"
        elif "cancelled" in conclusions:
            conclusion = "cancelled"
        run.update(status="completed", conclusion=conclusion, updated_at=now)
        self._save_attempt(run)
        self._emit_run("completed", run)

    def finish_run(self, run_id, conclusions=None):
        """Start the current attempt's queued jobs, then finish each (jobs run in parallel)."""
        with self._lock:
            run = self._run(run_id)
            conclusions = dict(conclusions or {})
            unknown = set(conclusions) - set(run["job_names"])
            if unknown:
                raise ValueError(f"run {run_id} has no jobs named {sorted(unknown)}")
            pending = [
                self.jobs[i] for i in run["job_ids"] if self.jobs[i]["status"] != "completed"
            ]
            for job in pending:
                if job["status"] == "queued":
                    self.start_job(job["id"])
            for job in pending:
                self.finish_job(job["id"], conclusions.get(job["name"], "success"))

    def rerun(self, run_id):
        with self._lock:
            now = self._tick()
            run = self._run(run_id)
            # GitHub re-runs only completed runs ("This workflow run is not completed", 403).
            if run["status"] != "completed":
                raise ValueError(f"run {run_id} is {run['status']}; only completed runs re-run")
            self._new_attempt(run, run["run_attempt"] + 1, "queued", now)
            return run["run_attempt"]

    def _run(self, run_id):
        if run_id not in self.runs:
            raise ValueError(f"unknown run {run_id}")
        return self.runs[run_id]

    def _job(self, job_id):
        if job_id not in self.jobs:
            raise ValueError(f"unknown job {job_id}")
        return self.jobs[job_id]

    def _emit_run(self, action, run):
        workflow = {"id": run["workflow_id"], "name": run["name"], "path": run["path"]}
        body = {"workflow_run": self.run_object(run["id"]), "workflow": workflow}
        self._emit("workflow_run", action, body, run["full_name"], run["actor"])

    def _emit_job(self, action, job):
        run = self.runs[job["run_id"]]
        self._emit("workflow_job", action, {"workflow_job": job}, run["full_name"], run["actor"])

    # -- reading the truth -----------------------------------------------------------------

    def run_object(self, run_id, attempt=None):
        """The run as GET .../actions/runs/{id} (or .../attempts/{attempt}) serves it."""
        with self._lock:
            run = self._run(run_id)
            number = attempt or run["run_attempt"]
            if not 1 <= number <= len(run["attempts"]):
                raise ValueError(f"run {run_id} has no attempt {number}")
            return self._run_json(run, run["attempts"][number - 1])

    def _run_json(self, run, snapshot):
        full_name, run_id, attempt = run["full_name"], run["id"], snapshot["run_attempt"]
        url = f"{API}/repos/{full_name}/actions/runs/{run_id}"
        fixed = ("id", "name", "head_branch", "head_sha", "path", "display_title", "run_number")
        return copy.deepcopy(
            {
                **{key: run[key] for key in fixed},
                "node_id": f"WFR_{run_id}",
                "run_attempt": attempt,
                "event": run["event"],
                "status": snapshot["status"],
                "conclusion": snapshot["conclusion"],
                "workflow_id": run["workflow_id"],
                "url": url,
                "html_url": f"{WEB}/{full_name}/actions/runs/{run_id}",
                "jobs_url": f"{url}/jobs",
                "logs_url": f"{url}/logs",
                "rerun_url": f"{url}/rerun",
                "previous_attempt_url": f"{url}/attempts/{attempt - 1}" if attempt > 1 else None,
                "workflow_url": f"{API}/repos/{full_name}/actions/workflows/{run['workflow_id']}",
                "created_at": run["created_at"],
                "updated_at": snapshot["updated_at"],
                "run_started_at": snapshot["run_started_at"],
                "actor": self._user(run["actor"]),
                "triggering_actor": self._user(run["actor"]),
                "pull_requests": self._pull_request_refs(run),
                "repository": self.repos[full_name],
                "head_repository": run["head_repository"],
            }
        )

    def _pull_request_refs(self, run):
        """The run's `pull_requests`: open PRs of its own repository whose head is its commit.

        Empty for PRs from forks (GitHub's documented behaviour) and once a PR is closed:
        https://docs.github.com/en/webhooks/webhook-events-and-payloads#workflow_run
        """
        refs = []
        for (full_name, _), pr in sorted(self.prs.items()):
            if full_name != run["full_name"] or pr["head"]["sha"] != run["head_sha"]:
                continue
            if pr["state"] == "open" and not pr["head"]["repo"]["fork"]:
                refs.append(_pull_request_ref(pr))
        return refs

    def expected_rows(self):
        """(runs, jobs) as sets of tuples: every attempt of every run, and every job."""
        with self._lock:
            runs = {
                (run_id, a["run_attempt"], a["status"], a["conclusion"], run["head_sha"])
                for run_id, run in self.runs.items()
                for a in run["attempts"]
            }
            jobs = {
                (j["id"], j["run_id"], j["run_attempt"], j["status"], j["conclusion"], _failed(j))
                for j in self.jobs.values()
            }
            return runs, jobs

    # -- webhooks --------------------------------------------------------------------------

    def _emit(self, name, action, body, full_name=None, sender="octocat"):
        payload = {"action": action, **body}
        if full_name is not None:
            payload["repository"] = self.repos[full_name]
            installation_id = self._repo_installation.get(full_name)
            if installation_id is not None:
                payload["installation"] = {"id": installation_id}
        payload["sender"] = self._user(sender)
        event = WebhookEvent(name, copy.deepcopy(payload), str(uuid.uuid4()))
        self.events.append(event)
        self._events_by_guid[event.guid] = event

    def add_delivery(self, event, action, status_code, guid=None, redelivery=False):
        """An entry of the App's delivery log; a `guid` of one of `events` ties it to that event."""
        with self._lock:
            now = self._tick()
            guid = guid or str(uuid.uuid4())
            source = self._events_by_guid.get(guid)
            payload = source.payload if source else {}
            delivery = {
                "id": self._new_id("delivery"),
                "guid": guid,
                "delivered_at": now,
                "redelivery": redelivery,
                "duration": 0.27,
                "status": "OK"
                if 200 <= status_code < 300
                else f"Invalid HTTP Response: {status_code}",
                "status_code": status_code,
                "event": event,
                "action": action,
                "installation_id": (payload.get("installation") or {}).get("id"),
                "repository_id": (payload.get("repository") or {}).get("id"),
                "throttled_at": None,
            }
            self.deliveries.append(delivery)
            return dict(delivery)

    # -- faults, tokens, rate limits -------------------------------------------------------

    def inject(
        self,
        path_pattern,
        status=502,
        times=1,
        retry_after=None,
        delay=None,
        method="GET",
        body=None,
    ):
        """The next `times` matching requests get this fault; `method=None` matches any method."""
        with self._lock:
            fault = Fault(
                re.compile(path_pattern),
                method.upper() if method else None,
                status,
                times,
                retry_after,
                delay,
                body,
            )
            self._faults.append(fault)

    def expire_tokens(self):
        with self._lock:
            for token in self._tokens.values():
                token["revoked"] = True

    def set_rate_limit(self, remaining, reset_in=3600):
        """Every bucket, and every bucket made later until the reset, has `remaining` calls left."""
        with self._lock:
            reset = int(time.time() + reset_in)
            self._rate_default = (remaining, reset)
            for bucket in self._buckets.values():
                bucket.update(remaining=remaining, reset=reset)

    def add_personal_token(self, token):
        with self._lock:
            self._personal.add(token)

    def app_jwt(self, **claims):
        """A JWT as the App signs it (iat 60 s ago, 10 minutes later exp); `claims` override.

        Signed as raw JWS, so that a test can send claims pyjwt refuses to encode (integer iss).
        """
        now = int(time.time())
        body = {"iat": now - 60, "exp": now + 540, "iss": str(self.app_id), **claims}
        return jwt.PyJWS().encode(json.dumps(body).encode(), self.private_key_pem, "RS256")

    # -- call accounting -------------------------------------------------------------------

    def count(self, status=None, path=None, method=None):
        with self._lock:
            return sum(1 for call in self.calls if _call_matches(call, status, path, method))

    @property
    def rate_limited_calls(self):
        """Calls GitHub counts against the hourly limit: token calls, except 304s and 401s."""
        with self._lock:
            counted = ("installation", "personal")
            return sum(1 for c in self.calls if c.auth in counted and c.status not in (304, 401))

    def reset_calls(self):
        with self._lock:
            self.calls.clear()

    def clear_faults(self):
        """The faults inject() set up and no request has used yet end: GitHub is back."""
        with self._lock:
            self._faults.clear()

    # -- serving ---------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._answer(request)
        except Exception as exc:  # the fake's own bug: keep serving, and let the test see it
            self.errors.append(exc)
            response = _json(500, {"message": f"fake GitHub failed: {exc!r}"})
        return response(environ, start_response)

    def _answer(self, request):
        fault = self._take_fault(request)
        if fault and fault.delay:
            time.sleep(fault.delay)
        exchange = Exchange(request)
        with self._lock:
            self._authenticate(exchange)
            response = self._respond(exchange, fault)
            self._account(exchange, response)
        for callback in exchange.after:
            callback()
        return response

    def _take_fault(self, request):
        with self._lock:
            for fault in self._faults:
                if fault.method not in (None, request.method):
                    continue
                if fault.pattern.search(request.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _authenticate(self, exchange):
        scheme, _, credential = exchange.request.headers.get("Authorization", "").partition(" ")
        credential = credential.strip()
        if scheme.lower() not in ("bearer", "token") or not credential:
            return
        exchange.credential = credential
        token = self._tokens.get(credential)
        if token is not None:
            exchange.auth = "installation"
            if not token["revoked"] and time.time() < token["expires"]:
                exchange.installation_id = token["installation_id"]
                exchange.bucket = ("installation", token["installation_id"])
        elif credential in self._personal:
            exchange.auth, exchange.bucket = "personal", ("personal", credential)
        else:
            exchange.auth = _credential_kind(credential)

    def _respond(self, exchange, fault):
        if fault and fault.status is not None:
            return _fault_response(fault)
        if exchange.bucket and self._bucket(exchange.bucket)["remaining"] <= 0:
            return self._primary_limit(exchange)
        request = exchange.request
        for method, pattern, kind, name in ROUTES:
            match = re.fullmatch(pattern, request.path)
            if match and method == request.method:
                response = self._dispatch(exchange, kind, getattr(self, name), match.groups())
                return _conditional(request, response, exchange.credential)
        return _not_found()

    def _dispatch(self, exchange, kind, handler, groups):
        if kind == "none":
            return handler(exchange, *groups)
        if kind == "jwt":
            if not self._valid_jwt(exchange.credential):
                return _json(401, {"message": JWT_ERROR, "documentation_url": DOCS})
            return handler(exchange, *groups)
        if exchange.bucket is None:
            return _json(401, {"message": "Bad credentials", "documentation_url": DOCS})
        if kind == "installation":
            return handler(exchange, *groups)
        repo = self._find_repo(groups[0])
        # GitHub hides what a token may not see: 404, not 403.
        if repo is None or not self._may_read(exchange, repo):
            return _not_found()
        return handler(exchange, repo, *groups[1:])

    def _valid_jwt(self, credential):
        """GitHub's checks: RS256 by the App's key, iss the App id (a string), iat and exp
        present, at most 10 minutes apart (plus a minute of clock drift), exp in the future:
        https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
        """
        if not credential:
            return False
        options = {"require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False}
        try:
            claims = jwt.decode(
                credential,
                self._public_key,
                algorithms=["RS256"],
                options=options,
                issuer=str(self.app_id),
            )
        except jwt.PyJWTError:
            return False
        iat, exp, now = claims["iat"], claims["exp"], time.time()
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (iat, exp)):
            return False
        return exp > now and iat <= now + 5 and exp - iat <= 660

    def _find_repo(self, full_name):
        # Owner and repository names are case-insensitive on GitHub.
        for name, repo in self.repos.items():
            if name.lower() == full_name.lower():
                return repo
        return None

    def _may_read(self, exchange, repo):
        if exchange.auth == "personal":
            return True
        return self._repo_installation.get(repo["full_name"]) == exchange.installation_id

    # -- rate limits -----------------------------------------------------------------------

    def _bucket(self, key):
        """The bucket's state, refilled once its hour is over (GitHub's fixed window)."""
        now = time.time()
        if key not in self._buckets:
            default = self._rate_default
            remaining, reset = default if default and default[1] > now else (HOURLY_LIMIT, 0)
            self._buckets[key] = {"remaining": remaining, "reset": reset}
        bucket = self._buckets[key]
        if bucket["reset"] <= now:
            bucket.update(remaining=HOURLY_LIMIT, reset=int(now + 3600))
        return bucket

    def _primary_limit(self, exchange):
        # https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
        kind, key = exchange.bucket
        who = f"installation ID {key}" if kind == "installation" else "user ID 1"
        body = {"message": f"API rate limit exceeded for {who}.", "documentation_url": PRIMARY_DOCS}
        return _json(403, body)

    def _account(self, exchange, response):
        """Charge the bucket (not for 304s: conditional requests are free) and record the call."""
        status = response.status_code
        if exchange.bucket:
            bucket = self._bucket(exchange.bucket)
            if status not in (304, 401) and bucket["remaining"] > 0:
                bucket["remaining"] -= 1
            response.headers.update(_rate_headers(bucket))
        request = exchange.request
        query = request.args.to_dict()
        self.calls.append(Call(request.method, request.path, query, status, exchange.auth))

    # -- routes ----------------------------------------------------------------------------

    def _paginate(self, request, items):
        """(this page's items, Link header or None) for `per_page` and `page`, as GitHub does."""
        per_page = min(_positive_arg(request, "per_page", DEFAULT_PER_PAGE), self.page_limit)
        page = _positive_arg(request, "page", 1)
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        return chunk, _page_links(request, page, last)

    def _paged(self, request, items, wrap=None):
        chunk, link = self._paginate(request, items)
        response = _json(200, wrap(chunk) if wrap else chunk)
        if link:
            response.headers["Link"] = link
        return response

    def _create_token(self, exchange, installation_id):
        installation_id = int(installation_id)
        if installation_id not in self.installations:
            return _not_found()
        token = "ghs_" + "".join(secrets.choice(string.ascii_letters) for _ in range(36))
        expires = time.time() + self.token_lifetime
        self._tokens[token] = {
            "installation_id": installation_id,
            "expires": expires,
            "revoked": False,
        }
        expires_at = datetime.datetime.fromtimestamp(expires, datetime.UTC)
        body = {
            "token": token,
            "expires_at": _iso(expires_at),
            "permissions": dict(PERMISSIONS),
            "repository_selection": "selected",
        }
        return _json(201, body)

    def _list_installations(self, exchange):
        items = [self.installations[i] for i in sorted(self.installations)]
        return self._paged(exchange.request, items)

    def _get_repo_installation(self, exchange, full_name):
        repo = self._find_repo(full_name)
        installation_id = self._repo_installation.get(repo["full_name"]) if repo else None
        if installation_id is None:
            return _not_found()
        return _json(200, self.installations[installation_id])

    def _list_installation_repos(self, exchange):
        if exchange.auth != "installation":
            message = (
                "You must authenticate with an installation access token in order to list "
                "repositories for an installation."
            )
            return _json(403, {"message": message, "documentation_url": DOCS})
        mine = exchange.installation_id
        repos = [r for n, r in self.repos.items() if self._repo_installation[n] == mine]

        def wrap(chunk):
            return {
                "total_count": len(repos),
                "repository_selection": "selected",
                "repositories": chunk,
            }

        return self._paged(exchange.request, repos, wrap)

    def _job_logs(self, exchange, repo, job_id):
        """A job's log is a redirect to a short-lived signed URL on another host:
        https://docs.github.com/en/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run"""
        job = self.jobs.get(int(job_id))
        if job is None or job["run_id"] not in self.runs:
            return _not_found()
        location = f"{exchange.request.host_url}_blobs/job-logs/{job_id}?sig=fake-signature"
        return Response(status=302, headers={"Location": location})

    def _log_blob(self, exchange, job_id):
        # The storage behind the signed URL refuses a request that also carries a token.
        if exchange.request.headers.get("Authorization"):
            return _json(400, {"message": "Authentication information is not given correctly"})
        job = self.jobs.get(int(job_id))
        if job is None:
            return _not_found()
        return Response(job_log(job), content_type="text/plain")

    def _convert_manifest(self, exchange, code):
        """The App-manifest flow's last step: a code GitHub gave the browser, used once.
        https://docs.github.com/en/rest/apps/apps#create-a-github-app-from-a-manifest"""
        if code not in self.manifest_codes:
            return _not_found()
        self.manifest_codes.discard(code)
        app = {
            "id": self.app_id,
            "slug": "prmonitor",
            "name": "prmonitor",
            "html_url": f"{WEB}/apps/prmonitor",
            "pem": self.private_key_pem,
            "webhook_secret": "whsec-from-manifest",
            "client_id": "Iv1.fake",
        }
        return _json(201, app)

    def _get_repo(self, exchange, repo):
        return _json(200, repo)

    def _list_pulls(self, exchange, repo):
        state = exchange.request.args.get("state", "open")
        if state not in ("open", "closed", "all"):
            return _json(422, {"message": "Validation Failed", "documentation_url": DOCS})
        prs = [pr for (n, _), pr in self.prs.items() if n == repo["full_name"]]
        prs = [pr for pr in prs if state in ("all", pr["state"])]
        prs.sort(key=lambda pr: (pr["created_at"], pr["id"]), reverse=True)
        # The list omits `merged`; only GET of one pull request has it.
        items = [{k: v for k, v in pr.items() if k != "merged"} for pr in prs]
        return self._paged(exchange.request, items)

    def _get_pull(self, exchange, repo, number):
        pr = self.prs.get((repo["full_name"], int(number)))
        return _json(200, pr) if pr else _not_found()

    def _list_runs(self, exchange, repo):
        args = exchange.request.args
        runs = [r for r in self.runs.values() if r["full_name"] == repo["full_name"]]
        runs = [self._run_json(r, r["attempts"][-1]) for r in runs]
        runs = [r for r in runs if _run_filter_matches(r, args)]
        runs.sort(key=lambda r: r["id"], reverse=True)

        def wrap(chunk):
            return {"total_count": len(runs), "workflow_runs": chunk}

        return self._paged(exchange.request, runs, wrap)

    def _repo_run(self, repo, run_id):
        run = self.runs.get(int(run_id))
        return run if run and run["full_name"] == repo["full_name"] else None

    def _get_run(self, exchange, repo, run_id):
        run = self._repo_run(repo, run_id)
        return _json(200, self._run_json(run, run["attempts"][-1])) if run else _not_found()

    def _get_attempt(self, exchange, repo, run_id, attempt):
        run = self._repo_run(repo, run_id)
        if run is None or not 1 <= int(attempt) <= len(run["attempts"]):
            return _not_found()
        return _json(200, self._run_json(run, run["attempts"][int(attempt) - 1]))

    def _list_jobs(self, exchange, repo, run_id):
        run = self._repo_run(repo, run_id)
        if run is None:
            return _not_found()
        which = exchange.request.args.get("filter", "latest")
        if which not in ("latest", "all"):
            return _json(422, {"message": "Validation Failed", "documentation_url": DOCS})
        attempts = run["attempts"] if which == "all" else run["attempts"][-1:]
        jobs = [self.jobs[i] for attempt in attempts for i in attempt["job_ids"]]

        def wrap(chunk):
            return {"total_count": len(jobs), "jobs": chunk}

        return self._paged(exchange.request, jobs, wrap)

    def _list_deliveries(self, exchange):
        """Newest first, with cursor pagination (a cursor names the last delivery seen):
        https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook
        """
        request = exchange.request
        per_page = min(_positive_arg(request, "per_page", DEFAULT_PER_PAGE), self.page_limit)
        cursor = request.args.get("cursor")
        if cursor is not None and not re.fullmatch(r"v1_\d+", cursor):
            return _json(422, {"message": "Invalid cursor", "documentation_url": DOCS})
        after = int(cursor[3:]) if cursor else math.inf
        newest_first = sorted(self.deliveries, key=lambda d: d["id"], reverse=True)
        remaining = [d for d in newest_first if d["id"] < after]
        response = _json(200, remaining[:per_page])
        if len(remaining) > per_page:
            next_url = _url(request, cursor=f"v1_{remaining[per_page - 1]['id']}")
            response.headers["Link"] = f'<{next_url}>; rel="next"'
        return response

    def _redeliver(self, exchange, delivery_id):
        found = [d for d in self.deliveries if d["id"] == int(delivery_id)]
        if not found:
            return _not_found()
        original = found[0]
        self.redelivered.append(original["id"])
        guid, event = original["guid"], original["event"]
        self.add_delivery(event, original["action"], 200, guid=guid, redelivery=True)
        if self.on_redeliver is not None:
            source = self._events_by_guid.get(guid)
            payload = copy.deepcopy(source.payload) if source else None
            exchange.after.append(partial(self.on_redeliver, guid, event, payload))
        return _json(202, {})


# (method, path regex, credential needed, handler): "jwt" the App's JWT, "installation" an
# installation token, "repo" an installation token of the repository's installation or a PAT.
ROUTES = [
    ("POST", r"/app/installations/(\d+)/access_tokens", "jwt", "_create_token"),
    ("GET", r"/app/installations", "jwt", "_list_installations"),
    ("GET", REPO + r"/installation", "jwt", "_get_repo_installation"),
    ("GET", r"/installation/repositories", "installation", "_list_installation_repos"),
    ("GET", REPO, "repo", "_get_repo"),
    ("GET", REPO + r"/pulls", "repo", "_list_pulls"),
    ("GET", REPO + r"/pulls/(\d+)", "repo", "_get_pull"),
    ("GET", REPO + r"/actions/runs", "repo", "_list_runs"),
    ("GET", REPO + r"/actions/runs/(\d+)", "repo", "_get_run"),
    ("GET", REPO + r"/actions/runs/(\d+)/attempts/(\d+)", "repo", "_get_attempt"),
    ("GET", REPO + r"/actions/runs/(\d+)/jobs", "repo", "_list_jobs"),
    ("GET", r"/app/hook/deliveries", "jwt", "_list_deliveries"),
    ("POST", r"/app/hook/deliveries/(\d+)/attempts", "jwt", "_redeliver"),
    ("POST", r"/app-manifests/([A-Za-z0-9]+)/conversions", "none", "_convert_manifest"),
    ("GET", REPO + r"/actions/jobs/(\d+)/logs", "repo", "_job_logs"),
    ("GET", r"/_blobs/job-logs/(\d+)", "none", "_log_blob"),
]


# -- helpers -------------------------------------------------------------------------------


def job_log(job):
    """A job's log as the runner writes it: a group per step, an error line for a failure."""
    lines = []
    for step in job.get("steps") or []:
        at = step.get("started_at") or job.get("created_at")
        lines.append(f"{at} ##[group]Run {step['name']}")
        lines.append(f"{at} ##[endgroup]")
        if step.get("conclusion") == "failure":
            lines.append(f"{at} FAILED tests/test_parser.py::test_empty_input - AssertionError")
            lines.append(f"{at} ##[error]Process completed with exit code 1.")
    return "\n".join(lines) + "\n"


def installed(full_names=("octo-org/widgets",), installation_id=7, **options):
    """A FakeGitHub with the App installed on these repositories."""
    fake = FakeGitHub(**options)
    fake.add_installation(installation_id)
    for full_name in full_names:
        fake.add_repo(full_name, installation_id=installation_id)
    return fake


def app_client(fake, base_url, **options):
    """prmonitor's GitHub client as the fake's App, with test-sized timeouts and backoff."""
    from prmonitor.github import GitHub
    from prmonitor.poll import EtagStore

    options = {"etags": EtagStore(), "backoff": 0.01, "timeout": (2, 2), **options}
    return GitHub(base_url, app_id=str(fake.app_id), private_key=fake.private_key_pem, **options)


def new_private_key():
    """A fresh RSA key as PEM text (the App's key in tests)."""
    return _new_private_key()


def _new_private_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha():
    return secrets.token_hex(20)


def _branch(repo, ref, sha):
    """A PR's `head` or `base`."""
    owner = repo["owner"]
    return {
        "label": f"{owner['login']}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": dict(owner),
        "repo": copy.deepcopy(repo),
    }


def _pull_request_ref(pr):
    """One entry of a run's `pull_requests`: the short shape GitHub uses there."""

    def side(branch):
        repo = branch["repo"]
        short_repo = {"id": repo["id"], "name": repo["name"], "url": repo["url"]}
        return {"ref": branch["ref"], "sha": branch["sha"], "repo": short_repo}

    return {
        "number": pr["number"],
        "id": pr["id"],
        "url": pr["url"],
        "head": side(pr["head"]),
        "base": side(pr["base"]),
    }


def _started_steps(now):
    first, *rest = STEP_NAMES
    steps = [_step(1, first, "in_progress", None, now, None)]
    return steps + [_step(i, name, "queued", None, None, None) for i, name in enumerate(rest, 2)]


def _finished_steps(job, conclusion, failed_step, now):
    """Every step succeeds, except after a failure: the failed step, then the rest skipped."""
    names = list(STEP_NAMES)
    failing = failed_step or "Run tests"
    if conclusion == "failure" and failing not in names:
        names[1] = failing
    steps, outcome = [], "success"
    for number, name in enumerate(names, 1):
        if conclusion == "failure" and name == failing:
            steps.append(_step(number, name, "completed", "failure", now, now))
            outcome = "skipped"
            continue
        started = job["started_at"] if number == 1 else now
        steps.append(_step(number, name, "completed", outcome, started, now))
    return steps


def _step(number, name, status, conclusion, started_at, completed_at):
    return {
        "name": name,
        "status": status,
        "conclusion": conclusion,
        "number": number,
        "started_at": started_at,
        "completed_at": completed_at,
    }


def _failed(job):
    return tuple(step["name"] for step in job["steps"] if step["conclusion"] == "failure")


def _credential_kind(credential):
    """What an unknown credential claims to be, by GitHub's token prefixes:
    https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
    """
    if credential.count(".") == 2:
        return "jwt"
    if credential.startswith("ghs_"):
        return "installation"
    if credential.startswith(("ghp_", "github_pat_")):
        return "personal"
    return None


def _call_matches(call, status, path, method):
    if status is not None and call.status != status:
        return False
    if method is not None and call.method != method.upper():
        return False
    return path is None or re.search(path, call.path) is not None


def _run_filter_matches(run, args):
    """GitHub's list filters; `status` takes a status or a conclusion."""
    if args.get("head_sha") and run["head_sha"] != args["head_sha"]:
        return False
    if args.get("event") and run["event"] != args["event"]:
        return False
    if args.get("branch") and run["head_branch"] != args["branch"]:
        return False
    status = args.get("status")
    return not status or status in (run["status"], run["conclusion"])


def _positive_arg(request, name, default):
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    return value if value >= 1 else default


def _url(request, **replace):
    """This request's absolute URL with some query parameters replaced (kept in order)."""
    params = [(k, v) for k, v in request.args.items(multi=True) if k not in replace]
    query = urlencode(params + list(replace.items()))
    return f"{request.host_url.rstrip('/')}{request.path}?{query}"


def _page_links(request, page, last):
    """GitHub's Link header: prev, next, last, first, each present when it applies:
    https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
    """
    rels = []
    if page > 1:
        rels.append(("prev", min(page - 1, last)))
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    if page > 1:
        rels.append(("first", 1))
    return ", ".join(f'<{_url(request, page=n)}>; rel="{rel}"' for rel, n in rels) or None


def _rate_headers(bucket):
    return {
        "X-RateLimit-Limit": str(HOURLY_LIMIT),
        "X-RateLimit-Remaining": str(bucket["remaining"]),
        "X-RateLimit-Used": str(HOURLY_LIMIT - bucket["remaining"]),
        "X-RateLimit-Reset": str(bucket["reset"]),
        "X-RateLimit-Resource": "core",
    }


def _conditional(request, response, credential=None):
    """ETag on every 200 GET; a matching If-None-Match gets 304:
    https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
    GitHub's ETags are specific to the token (confirmed by GitHub support in
    https://github.com/eclipse-csi/otterdog/issues/201): a new installation token, minted every
    hour, gets a 200 again where the old one got a 304. The fake does the same.
    """
    if request.method != "GET" or response.status_code != 200:
        return response
    digest = hashlib.sha1(response.get_data())
    digest.update((credential or "").encode())
    etag = f'W/"{digest.hexdigest()}"'
    response.headers["ETag"] = etag
    wanted = request.headers.get("If-None-Match", "")
    # If-None-Match compares weakly: W/"x" and "x" are the same tag (RFC 9110, 13.1.2).
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    if etag.removeprefix("W/") in tags or "*" in tags:
        return Response(status=304, headers={"ETag": etag})
    return response


def _fault_response(fault):
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    body = fault.body
    if body is None and fault.status in (403, 429) and fault.retry_after is not None:
        body = {"message": SECONDARY_LIMIT, "documentation_url": SECONDARY_DOCS}
    elif body is None:
        reason = "Server Error" if fault.status >= 500 else HTTP_STATUS_CODES.get(fault.status)
        body = {"message": reason}
    if isinstance(body, dict | list):
        return _json(fault.status, body, headers)
    return Response(body, status=fault.status, headers=headers, content_type="text/plain")


def _json(status, data, headers=None):
    body = json.dumps(data)
    return Response(body, status=status, headers=headers, content_type="application/json")


def _not_found():
    return _json(404, {"message": "Not Found", "documentation_url": DOCS})


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass  # one line per request on stderr is noise in test output


@contextmanager
def serve_fake(fake) -> Iterator[str]:
    """Serve `fake` on a free loopback port in a daemon thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, fake, threaded=True, request_handler=_QuietHandler)
    # A short poll interval: shutdown() waits for the serving loop to look at its flag.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-github", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
