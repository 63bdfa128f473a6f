"""A repository's CI over its latest runs: per workflow (base-branch runs and PR runs apart)
pass rate, median duration and queue time over time; per job the same with its flaky and
infrastructure failures (the diagnosis' classes); the most common failure signatures.

Two statements whatever the history: the repository's latest WINDOW run attempts (index
workflows(repo_full_name, created_at)), then their jobs' few columns (index workflow_id)."""

import statistics
from collections import Counter, defaultdict

from prmonitor.storage.models import FAILED_CONCLUSIONS, Workflow, WorkflowJob

WINDOW = 300  # run attempts of the repository, newest first
POINTS = 10  # points of each line: the window's runs of a workflow in this many slices
TOP = 12


def repo_trends(repo, window=WINDOW):
    """{"workflows": [...], "jobs": [...], "signatures": [...], "runs": how many were read}."""
    runs = list(
        Workflow.select(
            Workflow.id,
            Workflow.workflow_name,
            Workflow.pr,
            Workflow.conclusion,
            Workflow.created_at,
            Workflow.completed_at,
        )
        .where((Workflow.repo_full_name == repo) & Workflow.created_at.is_null(False))
        .order_by(Workflow.created_at.desc())
        .limit(window)
        .tuples()
    )
    runs.reverse()  # oldest first, as the lines are drawn
    jobs = _jobs([run[0] for run in runs])
    return {
        "runs": len(runs),
        "workflows": _workflows(runs, jobs),
        "jobs": _job_rows(runs, jobs),
        "signatures": _signatures(jobs),
    }


def _jobs(run_ids):
    found = defaultdict(list)
    for chunk in range(0, len(run_ids), 500):
        query = WorkflowJob.select(
            WorkflowJob.workflow,
            WorkflowJob.job_name,
            WorkflowJob.conclusion,
            WorkflowJob.created_at,
            WorkflowJob.started_at,
            WorkflowJob.completed_at,
            WorkflowJob.failure_class,
            WorkflowJob.failure_signature,
            WorkflowJob.failure_excerpt,
        ).where(WorkflowJob.workflow.in_(run_ids[chunk : chunk + 500]))
        for row in query.tuples():
            found[row[0]].append(row)
    return found


def _seconds(start, end):
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _pass_rate(conclusions):
    done = [c for c in conclusions if c is not None and c not in ("cancelled", "skipped")]
    if not done:
        return None
    return round(100 * sum(c == "success" for c in done) / len(done))


def _workflows(runs, jobs):
    groups = defaultdict(list)
    for run in runs:
        run_id, name, pr, conclusion, created, completed = run
        queue = _median(_seconds(j[3], j[4]) for j in jobs.get(run_id, []))
        groups[(name or "workflow", "PRs" if pr else "base branch")].append(
            (conclusion, _seconds(created, completed), queue)
        )
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


def _job_rows(runs, jobs):
    names = {run[0]: run[1] or "workflow" for run in runs}
    per_job = defaultdict(list)
    for run_id, listed in jobs.items():
        for job in listed:
            per_job[(names[run_id], job[1] or "job")].append(job)
    rows = []
    for (workflow, name), listed in per_job.items():
        classes = Counter(j[6] for j in listed if j[2] in FAILED_CONCLUSIONS)
        rows.append(
            {
                "workflow": workflow,
                "name": name,
                "runs": len(listed),
                "failed": sum(classes.values()),
                "flaky": classes.get("flaky", 0),
                "infrastructure": classes.get("infrastructure", 0),
                "pass_rate": _pass_rate([j[2] for j in listed]),
                "median_duration": _median(_seconds(j[4], j[5]) for j in listed),
            }
        )
    rows.sort(key=lambda r: (-(r["flaky"] + r["infrastructure"]), -r["failed"], r["name"]))
    return rows[:TOP]


def _signatures(jobs):
    seen = Counter()
    example = {}
    for listed in jobs.values():
        for job in listed:
            if job[2] in FAILED_CONCLUSIONS and job[7]:
                seen[job[7]] += 1
                example.setdefault(job[7], (job[1], job[6], job[8]))
    return [
        {
            "signature": signature,
            "count": count,
            "job": example[signature][0],
            "failure_class": example[signature][1],
            "excerpt": example[signature][2],
        }
        for signature, count in seen.most_common(TOP)
    ]
