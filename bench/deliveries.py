"""A realistic stream of signed GitHub webhook deliveries for bench/ingest.py.

For each workflow run: workflow_run requested, in_progress and completed, and for each of its jobs
workflow_job queued, in_progress and completed; a pull_request opened for every few runs (the
runs of one push), half of them named in the runs' `pull_requests` hint and half not, as for PRs
from forks. Runs overlap for minutes, so deliveries of many runs interleave; a random delivery
delay reorders events close in time, and a few deliveries arrive late, after later events of the
same run or job, since GitHub does not promise any order. Bodies are built from
tests/fixtures/*.json and each is signed into a complete HTTP request before anything is timed.
"""

import copy
import datetime
import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

from prmonitor.webhooks.receiver import sign

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
BASE_TIME = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)
REPOS = ("acme/widgets", "acme/gadgets", "acme/gizmos")
WORKFLOWS = ("CI", "Lint", "Docs", "Build", "Release", "Deploy")
PUSH_INTERVAL = 6.0  # simulated seconds between pushes; runs last minutes, so many overlap
MEAN_DELIVERY_DELAY = 0.5  # seconds of GitHub-side queueing, which reorders close events
LATE_RATE = 0.02  # deliveries held up for LATE_DELAY seconds, arriving after later events
LATE_DELAY = (5, 60)
FAILURE_RATE = 0.1


@dataclass(frozen=True)
class Delivery:
    event: str
    delivery_id: str
    request: bytes  # the whole HTTP/1.1 request, headers and signed body


@dataclass(frozen=True)
class Push:
    """One commit of a pull request; each of its runs is a workflow triggered by it."""

    repo: str
    number: int
    sha: str
    branch: str
    hinted: bool  # named in the runs' pull_requests (false for PRs from forks)
    time: float


@dataclass(frozen=True)
class RunInfo:
    index: int
    workflow: str
    push: Push
    requested: float
    started: float

    @property
    def run_id(self):
        return 9_100_000_000 + self.index


@dataclass(frozen=True)
class JobInfo:
    run: RunInfo
    job_id: int
    name: str
    queued: float


class Planner:
    """Timed (time, event, payload) triples for pushes, their runs and the runs' jobs."""

    def __init__(self, jobs_per_run, rng):
        self.jobs_per_run = jobs_per_run
        self.rng = rng
        self.fixtures = {p.stem: json.loads(p.read_text()) for p in FIXTURES.glob("*.json")}
        self.events = []

    def fixture(self, name):
        return copy.deepcopy(self.fixtures[name])

    def plan(self, runs, runs_per_pr):
        for index in range(runs):
            push_index, slot = divmod(index, runs_per_pr)
            if slot == 0:
                push = self.push(push_index)
            self.run(index, slot, push)
        return self.events

    def push(self, index):
        repo = REPOS[index % len(REPOS)]
        sha = hashlib.sha1(f"push-{index}".encode()).hexdigest()
        at = index * PUSH_INTERVAL + self.rng.uniform(0, PUSH_INTERVAL)
        push = Push(repo, 100 + index, sha, f"feature-{index}", index % 2 == 0, at)
        self.add(at + self.rng.uniform(-1, 1), "pull_request", self.pr_payload(push))
        return push

    def add(self, at, event, payload):
        self.events.append((at, event, payload))

    def run(self, index, slot, push):
        requested = push.time + self.rng.uniform(0, 2)
        started, finished, failed = requested + self.rng.uniform(1, 4), requested, False
        run = RunInfo(index, WORKFLOWS[slot % len(WORKFLOWS)], push, requested, started)
        for job in range(self.jobs_per_run):
            end, conclusion = self.job(run, job)
            finished, failed = max(finished, end), failed or conclusion == "failure"
        finished += self.rng.uniform(1, 3)
        self.add(requested, "workflow_run", self.run_payload(run, "requested", None, requested))
        self.add(started, "workflow_run", self.run_payload(run, "in_progress", None, started))
        conclusion = "failure" if failed else "success"
        self.add(finished, "workflow_run", self.run_payload(run, "completed", conclusion, finished))

    def job(self, run, number):
        """Plan one job's three events; returns (completed time, conclusion)."""
        queued = run.started - self.rng.uniform(0, 1)
        started = queued + self.rng.uniform(2, 20)
        finished = started + self.rng.uniform(30, 300)
        conclusion = "failure" if self.rng.random() < FAILURE_RATE else "success"
        job_id = 29_000_000_000 + run.index * self.jobs_per_run + number
        job = JobInfo(run, job_id, f"test-{number + 1}", queued)
        self.add(queued, "workflow_job", self.job_payload(job, "queued"))
        self.add(started, "workflow_job", self.job_payload(job, "in_progress", started))
        done = self.job_payload(job, "completed", started, (finished, conclusion))
        self.add(finished, "workflow_job", done)
        return finished, conclusion

    def pr_payload(self, push):
        payload = self.fixture("pull_request.opened")
        pr = payload["pull_request"]
        ends = {"head": (push.branch, push.sha), "base": ("main", pr["base"]["sha"])}
        for end, (ref, sha) in ends.items():
            pr[end].update(ref=ref, sha=sha, label=f"{push.repo.split('/')[0]}:{ref}")
            _set_repo(pr[end]["repo"], push.repo)
        url = f"https://github.com/{push.repo}/pull/{push.number}"
        pr.update(number=push.number, id=1_800_000_000 + push.number, html_url=url)
        pr.update(title=f"Change {push.number}", created_at=_iso(push.time))
        pr["updated_at"] = _iso(push.time)
        payload["number"] = push.number
        _set_repo(payload["repository"], push.repo)
        return payload

    def run_payload(self, run, status, conclusion, at):
        payload = self.fixture("workflow_run.completed")
        payload["action"] = status
        _set_repo(payload["repository"], run.push.repo)
        wr = payload["workflow_run"]
        url = f"https://github.com/{run.push.repo}/actions/runs/{run.run_id}"
        wr.update(id=run.run_id, name=run.workflow, head_sha=run.push.sha, html_url=url)
        wr.update(head_branch=run.push.branch, run_number=run.index + 1, conclusion=conclusion)
        wr.update(status="queued" if status == "requested" else status)
        wr.update(created_at=_iso(run.requested), updated_at=_iso(at))
        wr["run_started_at"] = _iso(run.started)
        wr["pull_requests"] = [_hint(wr["pull_requests"][0], run.push)] if run.push.hinted else []
        for key in ("repository", "head_repository"):
            wr[key].update(id=_repo_id(run.push.repo), full_name=run.push.repo)
        payload["workflow"]["name"] = run.workflow
        return payload

    def job_payload(self, job, status, started=None, completed=None):
        """A workflow_job delivery; `completed` is (finished, conclusion) once it is done."""
        payload = self.fixture("workflow_job.completed")
        payload["action"] = status
        run, push = job.run, job.run.push
        _set_repo(payload["repository"], push.repo)
        wj = payload["workflow_job"]
        url = f"https://github.com/{push.repo}/actions/runs/{run.run_id}/job/{job.job_id}"
        wj.update(id=job.job_id, run_id=run.run_id, workflow_name=run.workflow, html_url=url)
        wj.update(head_sha=push.sha, head_branch=push.branch, status=status)
        wj.update(name=job.name, created_at=_iso(job.queued))
        wj.update(started_at=_iso(started) if started else None, completed_at=None)
        wj.update(conclusion=None, steps=[], runner_name=None if status == "queued" else "runner-1")
        if status == "in_progress":
            wj["steps"] = _steps(self.fixtures["workflow_job.completed"], 1)
        if completed:
            finished, conclusion = completed
            wj.update(completed_at=_iso(finished), conclusion=conclusion)
            wj["steps"] = _steps(self.fixtures["workflow_job.completed"], conclusion=conclusion)
        return payload


def _steps(fixture, count=None, conclusion="success"):
    """The fixture job's steps: the first `count` done, all passing unless the job failed."""
    steps = copy.deepcopy(fixture["workflow_job"]["steps"])[:count]
    for step in steps:
        step["conclusion"] = "success"
    if conclusion == "failure":
        steps[len(steps) // 2]["conclusion"] = "failure"
    return steps


def _hint(template, push):
    hint = copy.deepcopy(template)
    hint.update(number=push.number, id=1_800_000_000 + push.number)
    hint["url"] = f"https://api.github.com/repos/{push.repo}/pulls/{push.number}"
    hint["head"].update(ref=push.branch, sha=push.sha)
    for end in ("head", "base"):
        hint[end]["repo"].update(id=_repo_id(push.repo), name=push.repo.split("/")[1])
    return hint


def _set_repo(repo, full_name):
    repo.update(id=_repo_id(full_name), full_name=full_name, name=full_name.split("/")[1])
    repo["html_url"] = f"https://github.com/{full_name}"


def _repo_id(full_name):
    return 700_000_001 + REPOS.index(full_name)


def _iso(at):
    moment = BASE_TIME + datetime.timedelta(seconds=int(at))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_deliveries(secret, runs, jobs_per_run=4, runs_per_pr=4, seed=1):
    """Every delivery of the plan in sending order, each body signed into a ready request."""
    rng = random.Random(seed)
    planned = Planner(jobs_per_run, rng).plan(runs, runs_per_pr)
    timed = [(at + _delay(rng), n, e, p) for n, (at, e, p) in enumerate(planned)]
    timed.sort(key=lambda item: (item[0], item[1]))
    return [_delivery(event, payload, secret, rng) for _, _, event, payload in timed]


def _delay(rng):
    late = rng.uniform(*LATE_DELAY) if rng.random() < LATE_RATE else 0
    return late + rng.expovariate(1 / MEAN_DELIVERY_DELAY)


def ping_deliveries(secret, count):
    """Pings, for warming a server up: handled and recorded like any delivery, but small."""
    ping = {"zen": "Keep it logically awesome.", "hook_id": 400000001}
    rng = random.Random(count)
    return [_delivery("ping", ping, secret, rng) for _ in range(count)]


def _delivery(event, payload, secret, rng):
    return delivery(event, payload, secret, rng, separators=None)


def delivery(event, payload, secret, rng, separators=(",", ":"), headers=()):
    """A signed request as GitHub's Hookshot sends it (compact JSON unless `separators` say
    otherwise), with its headers and any `headers` more."""
    body = json.dumps(payload, separators=separators).encode()
    delivery_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    lines = [
        "POST /api/github/webhooks HTTP/1.1",
        "Host: 127.0.0.1",
        "Accept: */*",
        "User-Agent: GitHub-Hookshot/bench",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"X-GitHub-Delivery: {delivery_id}",
        f"X-GitHub-Event: {event}",
        "X-GitHub-Hook-ID: 400000001",
        *headers,
        f"X-Hub-Signature-256: {sign(body, secret)}",
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return Delivery(event, delivery_id, head + body)
