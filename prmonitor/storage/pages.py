"""What the dashboard's PR page shows, read in a constant number of statements whatever the
PR's history: every attempt of every run, then all their jobs at once, grouped here."""

from collections import defaultdict

from prmonitor.storage import analyses, queries
from prmonitor.storage.models import FAILED_CONCLUSIONS, Workflow, WorkflowJob

_NEWEST_FIRST = (Workflow.created_at.desc(nulls="last"), Workflow.id.desc())


def pr_page(pr):
    """{"current": runs of the PR's head, "earlier": [(sha, runs)] of its earlier heads,
    "summary": the counts the API's workflow-summary gives, for the head's latest attempts}.
    Each run is the API's dict with "jobs" (failed first) and "attempts" (the earlier ones)."""
    rows = list(Workflow.select().where(Workflow.pr == pr.id).order_by(*_NEWEST_FIRST))
    models = _jobs_by_run({row.id: row for row in rows})
    jobs = {run: [queries.job_to_dict(job) for job in listed] for run, listed in models.items()}
    runs = _latest_attempts(rows, jobs)
    current = [run for run in runs if not pr.head_sha or run["head_sha"] == pr.head_sha]
    earlier = defaultdict(list)
    for run in runs:
        if pr.head_sha and run["head_sha"] != pr.head_sha:
            earlier[run["head_sha"] or "unknown"].append(run)
    failed = [job for run in current for job in models.get(run["id"], []) if _failed(job)]
    return {
        "current": current,
        "earlier": list(earlier.items()),
        "summary": summary(current),
        "failures": _failures(failed),
    }


def _failed(job):
    return job.conclusion in FAILED_CONCLUSIONS


def _jobs_by_run(rows):
    """{run attempt id: its jobs (models, failed first)}, each with its run set (no query)."""
    found = defaultdict(list)
    if not rows:
        return found
    query = WorkflowJob.select().where(WorkflowJob.workflow.in_(list(rows)))
    for job in query.order_by(WorkflowJob.started_at.asc(nulls="last"), WorkflowJob.id):
        job.workflow = rows[job.workflow_id]
        found[job.workflow_id].append(job)
    for listed in found.values():
        listed.sort(key=lambda job: not _failed(job))
    return found


def _failures(jobs):
    """The failed jobs as the API's failed-jobs gives them, with their AI analyses."""
    found = analyses.by_keys([analyses.key_of(job) for job in jobs])
    return [
        {**queries.failed_job_to_dict(job), "analysis": found.get(analyses.key_of(job))}
        for job in jobs
    ]


def _latest_attempts(rows, jobs):
    """The newest attempt of each run, in the rows' order, with the earlier ones inside."""
    by_run = defaultdict(list)
    for row in rows:
        by_run[row.run_id].append(row)
    runs, seen = [], set()
    for row in rows:
        if row.run_id in seen:
            continue
        seen.add(row.run_id)
        attempts = sorted(by_run[row.run_id], key=lambda w: w.run_attempt, reverse=True)
        runs.append(_run(attempts[0], jobs, [_run(a, jobs, []) for a in attempts[1:]]))
    return runs


def _run(row, jobs, attempts):
    run = queries.workflow_to_dict(row)
    listed = jobs.get(row.id, [])
    run.update(
        jobs=listed,
        attempts=attempts,
        job_count=len(listed),
        failed_job_count=sum(j["conclusion"] in FAILED_CONCLUSIONS for j in listed),
        successful_job_count=sum(j["conclusion"] == "success" for j in listed),
        in_progress_job_count=sum(j["status"] != "completed" for j in listed),
    )
    return run


def summary(runs):
    """The counts of workflow-summary, over `runs` and their jobs."""
    jobs = [job for run in runs for job in run["jobs"]]
    return {
        "workflows": {
            "total_workflows": len(runs),
            "successful_workflows": sum(r["conclusion"] == "success" for r in runs),
            "failed_workflows": sum(r["conclusion"] in FAILED_CONCLUSIONS for r in runs),
            "in_progress_workflows": sum(r["status"] == "in_progress" for r in runs),
            "queued_workflows": sum(r["status"] in queries.WAITING for r in runs),
        },
        "jobs": {
            "total_jobs": len(jobs),
            "successful_jobs": sum(j["conclusion"] == "success" for j in jobs),
            "failed_jobs": sum(j["conclusion"] in FAILED_CONCLUSIONS for j in jobs),
            "in_progress_jobs": sum(j["status"] != "completed" for j in jobs),
        },
    }


def is_live(page):
    """Whether anything on the page is still queued or running (the page keeps refreshing)."""
    return any(_going(run) for run in page["current"]) or any(
        _going(job) for run in page["current"] for job in run["jobs"]
    )


def _going(row):
    """Queued or running; a row of no status (written by hand) is not."""
    return row["status"] is not None and row["status"] != "completed"
