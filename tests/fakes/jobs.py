"""What the fake GitHub knows of workflow jobs: queued with their run's attempt, started,
finished with steps and a log; each change a `workflow_job` event."""

from .world import API, WEB

STEP_NAMES = ("Set up job", "Run tests", "Complete job")


class Jobs:
    """`jobs[job_id]` is the job exactly as the REST API serves it."""

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
            job.update(status="in_progress", started_at=now, steps=started_steps(now))
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
            steps = finished_steps(job, conclusion, failed_step, now) if job["started_at"] else []
            job.update(status="completed", conclusion=conclusion, completed_at=now, steps=steps)
            job["started_at"] = job["started_at"] or now
            self._emit_job("completed", job)
            self._complete_run_if_done(self.runs[job["run_id"]], now)

    def lose_runner(self, job_id):
        """The job fails without ever running: no runner picked it up (or the one assigned was
        lost before its first step), so it has no runner name, no steps and, often, no log."""
        with self._lock:
            job = self._job(job_id)
            now = self._tick()
            job.update(status="completed", conclusion="failure", completed_at=now, steps=[])
            job.update(started_at=job["started_at"] or now, runner_id=None, runner_name=None)
            self._emit_job("completed", job)
            self._complete_run_if_done(self.runs[job["run_id"]], now)

    def set_log(self, job_id, text=None, annotations=None):
        """The log GitHub will serve for the job (lines without timestamps get the job's) and
        its check run's annotations, in the REST API's shape."""
        with self._lock:
            job = self._job(job_id)
            if text is not None:
                at = job.get("completed_at") or job["created_at"]
                self.job_logs[job_id] = "".join(
                    line + "\n" if line[:4].isdigit() else f"{at[:-1]}.0000000Z {line}\n"
                    for line in text.splitlines()
                )
            if annotations is not None:
                self.job_annotations[job_id] = list(annotations)

    def _job(self, job_id):
        if job_id not in self.jobs:
            raise ValueError(f"unknown job {job_id}")
        return self.jobs[job_id]

    def _emit_job(self, action, job):
        run = self.runs[job["run_id"]]
        self._emit("workflow_job", action, {"workflow_job": job}, run["full_name"], run["actor"])


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


def failed(job):
    """The names of the job's failed steps."""
    return tuple(step["name"] for step in job["steps"] if step["conclusion"] == "failure")


def started_steps(now):
    first, *rest = STEP_NAMES
    steps = [step(1, first, "in_progress", None, now, None)]
    return steps + [step(i, name, "queued", None, None, None) for i, name in enumerate(rest, 2)]


def finished_steps(job, conclusion, failed_step, now):
    """Every step succeeds, except after a failure: the failed step, then the rest skipped."""
    names = list(STEP_NAMES)
    failing = failed_step or "Run tests"
    if conclusion == "failure" and failing not in names:
        names[1] = failing
    steps, outcome = [], "success"
    for number, name in enumerate(names, 1):
        if conclusion == "failure" and name == failing:
            steps.append(step(number, name, "completed", "failure", now, now))
            outcome = "skipped"
            continue
        started = job["started_at"] if number == 1 else now
        steps.append(step(number, name, "completed", outcome, started, now))
    return steps


def step(number, name, status, conclusion, started_at, completed_at):
    return {
        "name": name,
        "status": status,
        "conclusion": conclusion,
        "number": number,
        "started_at": started_at,
        "completed_at": completed_at,
    }
