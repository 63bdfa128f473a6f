"""A repository's CI over its latest runs: per workflow (base-branch runs and PR runs apart)
pass rate, median duration and queue time over time; per job the same with its flaky and
infrastructure failures (the diagnosis' classes); the most common failure signatures.

Four statements whatever the history: the repository's latest WINDOW run attempts (index
workflows(repo_full_name, created_at)), then three aggregates of their jobs (index
workflow_id): the wait per run, the figures per job name, the commonest signatures."""

import statistics
from collections import defaultdict

from peewee import SQL, NodeList, fn

from prmonitor.storage import db
from prmonitor.storage.models import FAILED_CONCLUSIONS, Workflow, WorkflowJob
from prmonitor.storage.queries import count_where

WINDOW = 300  # run attempts of the repository, newest first
POINTS = 10  # points of each line: the window's runs of a workflow in this many slices
TOP = 12


def repo_trends(repo, window=WINDOW):
    """{"workflows": [...], "jobs": [...], "signatures": [...], "runs": how many were read}."""
    runs = list(
        Workflow.select(
            Workflow.id,
            Workflow.workflow_name,
            Workflow.pr.is_null(False),
            Workflow.conclusion,
            seconds_between(Workflow.created_at, Workflow.completed_at),
        )
        .where((Workflow.repo_full_name == repo) & Workflow.created_at.is_null(False))
        .order_by(Workflow.created_at.desc())
        .limit(window)
        .tuples()
    )
    runs.reverse()  # oldest first, as the lines are drawn
    ids = [run[0] for run in runs]
    return {
        "runs": len(runs),
        "workflows": _workflows(runs, _queue_by_run(ids)),
        "jobs": _job_rows(ids),
        "signatures": _signatures(ids),
    }


def seconds_between(start, end):
    """SQL for the seconds from `start` to `end` (NULL when either is)."""
    if db.is_postgres():
        return NodeList((SQL("EXTRACT(EPOCH FROM"), end - start, SQL(")")))
    return (fn.julianday(end) - fn.julianday(start)) * 86400


def _queue_by_run(ids):
    """{run attempt id: its jobs' mean wait for a runner, in seconds}."""
    if not ids:
        return {}
    waited = seconds_between(WorkflowJob.created_at, WorkflowJob.started_at)
    query = (
        WorkflowJob.select(WorkflowJob.workflow, fn.AVG(waited))
        .where(WorkflowJob.workflow.in_(ids) & (WorkflowJob.started_at >= WorkflowJob.created_at))
        .group_by(WorkflowJob.workflow)
        .tuples()
    )
    return {run_id: float(seconds) for run_id, seconds in query if seconds is not None}


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _pass_rate(conclusions):
    done = [c for c in conclusions if c is not None and c not in ("cancelled", "skipped")]
    if not done:
        return None
    return round(100 * sum(c == "success" for c in done) / len(done))


def _workflows(runs, queue):
    groups = defaultdict(list)
    for run_id, name, of_pr, conclusion, took in runs:
        where = "PRs" if of_pr else "base branch"
        took = float(took) if took is not None and took >= 0 else None
        groups[(name or "workflow", where)].append((conclusion, took, queue.get(run_id)))
    rows = []
    for (name, where), listed in sorted(groups.items()):
        slices = _slices(listed)
        rows.append(
            {
                "name": name,
                "where": where,
                "runs": len(listed),
                "pass_rate": _pass_rate([r[0] for r in listed]),
                "median_duration": _median(r[1] for r in listed),
                "median_queue": _median(r[2] for r in listed),
                "pass_series": [_pass_rate([r[0] for r in s]) for s in slices],
                "duration_series": [_minutes(_median(r[1] for r in s)) for s in slices],
                "queue_series": [_minutes(_median(r[2] for r in s)) for s in slices],
            }
        )
    return rows


def _slices(listed, points=POINTS):
    size = max(1, -(-len(listed) // points))
    return [listed[i : i + size] for i in range(0, len(listed), size)]


def _minutes(seconds):
    return None if seconds is None else round(seconds / 60, 1)


def _job_rows(ids):
    """Per job name: runs, pass rate, failures by class, mean duration; flakiest first."""
    if not ids:
        return []
    job = WorkflowJob
    failed = job.conclusion.in_(FAILED_CONCLUSIONS)
    done = job.conclusion.is_null(False) & job.conclusion.not_in(("cancelled", "skipped"))
    query = (
        job.select(
            job.workflow_name,
            job.job_name,
            fn.COUNT(job.id),
            count_where(done),
            count_where(job.conclusion == "success"),
            count_where(failed),
            count_where(failed & (job.failure_class == "flaky")),
            count_where(failed & (job.failure_class == "infrastructure")),
            fn.AVG(seconds_between(job.started_at, job.completed_at)),
        )
        .where(job.workflow.in_(ids))
        .group_by(job.workflow_name, job.job_name)
        .tuples()
    )
    rows = [
        {
            "workflow": workflow or "workflow",
            "name": name or "job",
            "runs": int(runs),
            "pass_rate": round(100 * int(passed) / int(done)) if done else None,
            "failed": int(failures),
            "flaky": int(flaky),
            "infrastructure": int(infrastructure),
            "mean_duration": float(took) if took is not None else None,
        }
        for workflow, name, runs, done, passed, failures, flaky, infrastructure, took in query
    ]
    rows.sort(key=lambda r: (-(r["flaky"] + r["infrastructure"]), -r["failed"], r["name"]))
    return rows[:TOP]


def _signatures(ids):
    """The most common failure signatures, each with a job, its class and an excerpt."""
    if not ids:
        return []
    job = WorkflowJob
    count = fn.COUNT(job.id)
    query = (
        job.select(
            job.failure_signature,
            count,
            fn.MIN(job.job_name),
            fn.MIN(job.failure_class),
            fn.MIN(job.failure_excerpt),
        )
        .where(
            job.workflow.in_(ids)
            & job.conclusion.in_(FAILED_CONCLUSIONS)
            & job.failure_signature.is_null(False)
        )
        .group_by(job.failure_signature)
        .order_by(count.desc(), job.failure_signature)
        .limit(TOP)
        .tuples()
    )
    return [
        {
            "signature": signature,
            "count": int(found),
            "job": name,
            "failure_class": failure_class,
            "excerpt": excerpt,
        }
        for signature, found, name, failure_class, excerpt in query
    ]
