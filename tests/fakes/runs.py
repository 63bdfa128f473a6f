"""What the fake GitHub knows of workflow runs: queued for a commit, re-run as a new attempt,
completed once their jobs are; each change a `workflow_run` event."""

import copy
import re

from .jobs import failed
from .world import API, WEB

# A run fails when a job failed or timed out:
# https://docs.github.com/en/rest/actions/workflow-jobs#get-a-job-for-a-workflow-run
FAILED = ("failure", "timed_out")


class Runs:
    """`runs[run_id]` is the run's state: its fixed fields, the current attempt's `run_attempt`,
    `status`, `conclusion`, `updated_at`, `run_started_at` and `job_ids`, and `attempts`, a
    snapshot of those per attempt."""

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

    def _emit_run(self, action, run):
        workflow = {"id": run["workflow_id"], "name": run["name"], "path": run["path"]}
        body = {"workflow_run": self.run_object(run["id"]), "workflow": workflow}
        self._emit("workflow_run", action, body, run["full_name"], run["actor"])

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
                refs.append(pull_request_ref(pr))
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
                (j["id"], j["run_id"], j["run_attempt"], j["status"], j["conclusion"], failed(j))
                for j in self.jobs.values()
            }
            return runs, jobs


def pull_request_ref(pr):
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
