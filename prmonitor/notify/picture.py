"""A PR's failure picture as the notifications show it: its head's failures with their class
and evidence, what is still running, its earlier failures. Built from the stored rows at the
moment a notification is sent, never when it was queued."""

import json
from dataclasses import dataclass

from prmonitor.failures.analysis import OUTAGE
from prmonitor.storage import analyses
from prmonitor.storage import picture as rows
from prmonitor.storage.models import FAILED_CONCLUSIONS


@dataclass(frozen=True)
class Failure:
    """One failed job, as the notifications name it."""

    key: str  # the same failure across re-runs and its diagnosis: head, workflow, job name
    job_id: int
    job_name: str
    job_url: str | None
    workflow_name: str
    run_number: int | None
    run_attempt: int
    run_url: str | None
    step: str | None
    line: str | None
    excerpt: str | None
    failure_class: str | None  # None until diagnosed
    evidence: dict
    head_sha: str
    analysis: dict | None = None  # the AI's verdict (storage.analyses.to_dict), once done


@dataclass(frozen=True)
class Picture:
    """What a PR's notifications say, for its current head."""

    pr_id: int
    repo: str
    number: int
    title: str
    url: str | None
    head_sha: str
    base_ref: str | None
    draft: bool
    installation_id: int | None
    failures: tuple[Failure, ...]
    running: tuple[str, ...]  # names of the head's jobs queued or in progress
    runs: int
    earlier: tuple[Failure, ...]
    undiagnosed: int  # failures whose diagnosis is still to come
    as_of: object  # the latest time in the head's runs and jobs (None: no runs yet)
    analysis_skipped: str | None = None  # why the head's failures got no AI analysis

    @property
    def green(self):
        """Every run of the head completed, and none failed."""
        return self.runs > 0 and not self.failures and not self.running

    @property
    def ever_red(self):
        """Whether the PR has had a failure (on this head or an earlier one)."""
        return bool(self.failures or self.earlier)

    def by_class(self, *classes):
        """The head's failures of these classes (None: not yet classified)."""
        return [failure for failure in self.failures if failure.failure_class in classes]


def load(pr_id):
    """The picture of PR `pr_id`, or None when the PR is gone or has no head."""
    pr = rows.pr(pr_id)
    if pr is None or not pr.head_sha:
        return None
    runs = rows.head_runs(pr)
    by_id = {run.id: run for run in runs}
    jobs = rows.jobs_of(by_id)
    failed = [job for job in jobs if job.conclusion in FAILED_CONCLUSIONS]
    found = analyses.by_keys([analyses.key_of(job) for job in failed])
    earlier = rows.earlier_failures(pr, by_id)
    running = [job.job_name or "job" for job in jobs if job.status != "completed"]
    # A run not completed whose jobs are not stored yet (or all done) is still running too.
    busy = {job.workflow_id for job in jobs if job.status != "completed"}
    running += [
        f"{run.workflow_name or 'workflow'} (run)"
        for run in runs
        if run.status != "completed" and run.id not in busy
    ]
    return Picture(
        pr_id=pr.id,
        repo=pr.repo_full_name,
        number=pr.pr_number,
        title=pr.title or "",
        url=pr.html_url,
        head_sha=pr.head_sha,
        base_ref=pr.base_ref,
        draft=bool(pr.draft),
        installation_id=pr.installation_id,
        failures=tuple(failure(job, by_id[job.workflow_id], found) for job in failed),
        running=tuple(running),
        runs=len(runs),
        earlier=tuple(failure(job, job.workflow) for job in earlier),
        undiagnosed=len(rows.undiagnosed([job.job_id for job in failed])),
        as_of=_latest(runs, jobs),
        analysis_skipped=_skipped(pr.head_sha),
    )


def failure(job, run, found=None):
    """A Failure from a workflow_jobs row and its run's row (`found`: analyses by key)."""
    steps = _json(job.failed_steps, [])
    step = steps[0] if steps and isinstance(steps[0], str) else None
    line = job.error_message if job.error_message != step else None  # not the step again
    return Failure(
        # The same failure across its diagnosis and re-runs: what is announced once.
        key=f"{job.head_sha}:{run.workflow_name}:{job.job_name}"[:500],
        job_id=job.job_id,
        job_name=job.job_name or f"job {job.job_id}",
        job_url=job.html_url,
        workflow_name=run.workflow_name or job.workflow_name or "workflow",
        run_number=run.run_number,
        run_attempt=run.run_attempt or 1,
        run_url=run.html_url,
        step=step,
        line=line,
        excerpt=job.failure_excerpt,
        failure_class=job.failure_class,
        evidence=_json(job.evidence, {}),
        head_sha=job.head_sha or "",
        analysis=_done((found or {}).get(analyses.key_of(job))),
    )


def _done(analysis):
    return analysis if analysis and analysis["state"] == "done" else None


def _skipped(head_sha):
    if analyses.skipped_on_head(head_sha, OUTAGE):
        return "more new failures on this head than the AI analyses: an outage, not the PR?"
    return None


def _latest(runs, jobs):
    times = [t for run in runs for t in (run.created_at, run.completed_at) if t]
    times += [t for job in jobs for t in (job.started_at, job.completed_at) if t]
    return max(times) if times else None


def _json(text, default):
    try:
        value = json.loads(text) if text else default
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default
