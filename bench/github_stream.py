"""One large push as GitHub delivers it, for bench/push.py: a pull request opened, then RUNS
workflow runs of JOBS jobs each on its one head SHA, the shape of a large monorepo's push, which
starts dozens of workflows and hundreds of jobs on one commit at once. Each run is requested,
in progress and completed, each job queued, in progress and completed.

Bodies are GitHub's own published examples (octokit/webhooks, in ../shared/github-payloads/;
see its SOURCES.md), sent as compact JSON as GitHub sends them: 7 to 10 KB for workflow_job,
19 KB for workflow_run, 24 KB for pull_request. Only the fields that tie them together (ids,
the repository, the installation, the head SHA, times, the PR hint) are changed. Deliveries of
close events are reordered by a random delay and a few arrive late, as GitHub promises no
order; each is signed into a complete HTTP request before anything is timed.
"""

import datetime
import hashlib
import hmac
import json
import random
from pathlib import Path

import deliveries

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT.parent / "shared" / "github-payloads" / "webhooks"
TEMPLATES = {
    "pull_request": "pull_request/opened.payload.json",
    "run requested": "workflow_run/requested.payload.json",
    "run in_progress": "workflow_run/in_progress.payload.json",
    "run completed": "workflow_run/completed.with-pull-requests.payload.json",
    "job queued": "workflow_job/queued.payload.json",
    "job in_progress": "workflow_job/in_progress.payload.json",
    "job success": "workflow_job/completed.success.with-organization.payload.json",
    "job failure": "workflow_job/completed.failure.with-organization.payload.json",
}
BASE_TIME = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)
REPO, REPO_ID, INSTALLATION = "acme/monorepo", 700_000_101, 42_000_001
PR_NUMBER, BRANCH = 4242, "big-change"
HEAD_SHA = hashlib.sha1(b"one large push").hexdigest()
MEAN_DELIVERY_DELAY = 0.5  # seconds of GitHub-side queueing, which reorders close events
LATE_RATE, LATE_DELAY = 0.02, (5, 60)  # deliveries that arrive after later events
FAILURE_RATE = 0.1


def examples_missing(directory=EXAMPLES):
    """The example files this needs that are not in `directory` (none when all are)."""
    return [name for name in TEMPLATES.values() if not (Path(directory) / name).is_file()]


class Push:
    """The timed (time, event, payload) triples of the push, from the examples as templates."""

    def __init__(self, runs, jobs_per_run, rng, directory=EXAMPLES):
        self.runs, self.jobs_per_run, self.rng = runs, jobs_per_run, rng
        # Kept as text: json.loads of the text is a cheaper deep copy than copy.deepcopy.
        self.templates = {k: (Path(directory) / v).read_text() for k, v in TEMPLATES.items()}
        self.events = []

    def template(self, name):
        payload = json.loads(self.templates[name])
        repo = payload["repository"]
        repo.update(id=REPO_ID, full_name=REPO, name=REPO.split("/")[1])
        repo["html_url"] = f"https://github.com/{REPO}"
        # A GitHub App's deliveries name the installation; the examples do not all.
        payload["installation"] = {"id": INSTALLATION, "node_id": "MDIzOkludGVncmF0aW9u"}
        return payload

    def plan(self):
        self.add(0.0, "pull_request", self.pr_payload())
        for index in range(self.runs):
            self.run(index)
        return self.events

    def add(self, at, event, payload):
        self.events.append((at, event, payload))

    def pr_payload(self):
        payload = self.template("pull_request")
        pr = payload["pull_request"]
        pr["head"].update(ref=BRANCH, sha=HEAD_SHA, label=f"acme:{BRANCH}")
        pr["base"].update(ref="main", label="acme:main")
        for end in ("head", "base"):
            pr[end]["repo"].update(id=REPO_ID, full_name=REPO, name=REPO.split("/")[1])
        pr.update(number=PR_NUMBER, id=1_800_000_000 + PR_NUMBER, state="open")
        pr.update(html_url=f"https://github.com/{REPO}/pull/{PR_NUMBER}", title="A large change")
        pr.update(created_at=_iso(0), updated_at=_iso(0), closed_at=None, merged_at=None)
        payload["number"] = PR_NUMBER
        return payload

    def run(self, index):
        """A run and its jobs: all of the push's workflows start within seconds of the push."""
        requested = self.rng.uniform(1, 6)
        started = requested + self.rng.uniform(1, 10)
        finished, failed = started, False
        for number in range(self.jobs_per_run):
            end, conclusion = self.job(index, number, started)
            finished, failed = max(finished, end), failed or conclusion == "failure"
        finished += self.rng.uniform(1, 3)
        self.add(requested, "workflow_run", self.run_payload(index, "requested", requested))
        self.add(started, "workflow_run", self.run_payload(index, "in_progress", started))
        conclusion = "failure" if failed else "success"
        done = self.run_payload(index, "completed", finished, conclusion)
        self.add(finished, "workflow_run", done)

    def run_payload(self, index, action, at, conclusion=None):
        payload = self.template(f"run {action}")
        payload["action"] = action
        run, run_id = payload["workflow_run"], _run_id(index)
        name = f"workflow-{index + 1}"
        url = f"https://github.com/{REPO}/actions/runs/{run_id}"
        run.update(id=run_id, name=name, head_sha=HEAD_SHA, head_branch=BRANCH, html_url=url)
        run.update(run_number=index + 1, run_attempt=1, event="pull_request")
        run.update(status="queued" if action == "requested" else action, conclusion=conclusion)
        run.update(created_at=_iso(at), updated_at=_iso(at), run_started_at=_iso(at))
        for key in ("repository", "head_repository"):
            run[key].update(id=REPO_ID, full_name=REPO, name=REPO.split("/")[1])
        hint = json.loads(self.templates["run completed"])["workflow_run"]["pull_requests"][0]
        hint.update(number=PR_NUMBER, id=1_800_000_000 + PR_NUMBER)
        hint["url"] = f"https://api.github.com/repos/{REPO}/pulls/{PR_NUMBER}"
        hint["head"].update(ref=BRANCH, sha=HEAD_SHA)
        for end in ("head", "base"):
            hint[end]["repo"].update(id=REPO_ID, name=REPO.split("/")[1])
        run["pull_requests"] = [hint]
        payload["workflow"]["name"] = name
        return payload

    def job(self, run_index, number, run_started):
        """Plan one job's three events; returns (completed time, conclusion)."""
        queued = run_started - self.rng.uniform(0, 1)
        started = queued + self.rng.uniform(2, 60)
        finished = started + self.rng.uniform(30, 600)
        conclusion = "failure" if self.rng.random() < FAILURE_RATE else "success"
        job = (run_index, number, queued)
        self.add(queued, "workflow_job", self.job_payload(job, "queued"))
        self.add(started, "workflow_job", self.job_payload(job, "in_progress", started))
        done = self.job_payload(job, conclusion, started, finished)
        self.add(finished, "workflow_job", done)
        return finished, conclusion

    def job_payload(self, job, kind, started=None, finished=None):
        """A workflow_job delivery: queued, in_progress, or completed as success or failure."""
        run_index, number, queued = job
        payload = self.template(f"job {kind}")
        payload["action"] = "completed" if finished is not None else kind
        wj, run_id = payload["workflow_job"], _run_id(run_index)
        job_id = 29_000_000_000 + run_index * self.jobs_per_run + number
        url = f"https://github.com/{REPO}/actions/runs/{run_id}/job/{job_id}"
        wj.update(id=job_id, run_id=run_id, run_attempt=1, html_url=url, name=f"job-{number + 1}")
        wj.update(workflow_name=f"workflow-{run_index + 1}", head_sha=HEAD_SHA)
        wj.update(head_branch=BRANCH, created_at=_iso(queued))
        wj.update(started_at=_iso(started if started is not None else queued))
        if finished is not None:
            wj.update(status="completed", conclusion=kind, completed_at=_iso(finished))
        else:
            wj.update(status=kind, conclusion=None, completed_at=None)
        return payload


def _run_id(index):
    return 9_200_000_000 + index


def _iso(at):
    moment = BASE_TIME + datetime.timedelta(seconds=int(at))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_push(secret, runs=600, jobs_per_run=10, seed=1, directory=EXAMPLES):
    """Every delivery of the push in sending order, each body signed into a ready request."""
    rng = random.Random(seed)
    planned = Push(runs, jobs_per_run, rng, directory).plan()
    timed = [(at + _delay(rng), n, e, p) for n, (at, e, p) in enumerate(planned)]
    timed.sort(key=lambda item: (item[0], item[1]))
    return [delivery(event, payload, secret, rng) for _, _, event, payload in timed]


def expected_rows(runs=600, jobs_per_run=10):
    jobs = runs * jobs_per_run
    return {"workflows": runs, "linked": runs, "jobs": jobs, "linked_jobs": jobs, "prs": 1}


def _delay(rng):
    late = rng.uniform(*LATE_DELAY) if rng.random() < LATE_RATE else 0
    return late + rng.expovariate(1 / MEAN_DELIVERY_DELAY)


def delivery(event, payload, secret, rng):
    """A signed request as GitHub's Hookshot sends an App's: compact JSON, every header."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    sha1 = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    headers = (
        f"X-GitHub-Hook-Installation-Target-ID: {INSTALLATION}",
        "X-GitHub-Hook-Installation-Target-Type: integration",
        f"X-Hub-Signature: sha1={sha1}",
    )
    return deliveries.delivery(event, payload, secret, rng, headers=headers)
