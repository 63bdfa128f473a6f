"""Read side: the queries behind the REST API, the dashboard and `prmonitor show`, and their
explicit serializers (the seed's response shapes, field for field, plus a few more)."""

import datetime
import json

from peewee import JOIN, SQL, Case, fn

from prmonitor.storage import analyses
from prmonitor.storage.models import (
    FAILED_CONCLUSIONS,
    Delivery,
    Pr,
    Workflow,
    WorkflowJob,
    iso,
    true_first,
    utcnow,
)


class NotFound(LookupError):
    """No tracked PR or workflow has that number or id."""

    pass


class Ambiguous(LookupError):
    """A PR number that exists in several repositories, asked for without ?repo=."""

    def __init__(self, repos):
        super().__init__(", ".join(repos))
        self.repos = repos


# -- pull requests ---------------------------------------------------------------------------


def resolve_pr(number, repo=None):
    """The PR with this number (in `repo` when given; repository names are case-insensitive:
    the exact name first, then any casing of it). The (pr_number, repo_full_name) index serves
    both reads, however many repositories share the number."""
    query = Pr.select().where(Pr.pr_number == number).order_by(Pr.repo_full_name)
    if repo:
        exact = list(query.where(Pr.repo_full_name == repo))
        prs = exact or list(query.where(fn.LOWER(Pr.repo_full_name) == repo.lower()))
    else:
        prs = list(query)
    if not prs:
        where = f" in {repo}" if repo else ""
        raise NotFound(f"pull request #{number}{where} is not tracked")
    if len(prs) > 1:
        raise Ambiguous([pr.repo_full_name for pr in prs])
    return prs[0]


def stored_repo_name(repo):
    """The repository's name as stored (GitHub's names are case-insensitive): `repo` itself,
    else the stored casing of it, else `repo`."""
    if Workflow.select().where(Workflow.repo_full_name == repo).exists():
        return repo
    found = Pr.select(Pr.repo_full_name).where(fn.LOWER(Pr.repo_full_name) == repo.lower()).scalar()
    return found or repo


def pr_number_of_branch(branch, repo=None):
    """The number of the PR whose head is `branch` (an open one first, then the newest)."""
    query = Pr.select(Pr.pr_number).where(Pr.head_ref == branch)
    if repo:
        query = query.where(Pr.repo_full_name == repo)
    query = query.order_by(true_first(Pr.state == "open"), Pr.updated_at.desc(nulls="last"))
    return query.scalar()


def pr_to_dict(pr):
    """A PR as the API returns it."""
    return {
        "id": pr.id,
        "pr_number": pr.pr_number,
        "repo": pr.repo_full_name,
        "title": pr.title,
        "author": pr.author,
        "state": pr.state,
        "head_sha": pr.head_sha,
        "head_ref": pr.head_ref,
        "base_ref": pr.base_ref,
        "html_url": pr.html_url,
        "updated_at": iso(pr.updated_at),
        "tracking": pr.tracking,
        "reconciled_at": iso(pr.reconciled_at),
    }


# -- workflows -------------------------------------------------------------------------------


def count_where(condition):
    """An aggregate: the number of rows where `condition` holds (0 for none)."""
    return fn.COALESCE(fn.SUM(Case(None, [(condition, 1)], 0)), 0)


def latest_attempt(run=Workflow):
    """Only the newest attempt of each run: a re-run supersedes the earlier attempts. `run`
    is Workflow or an alias of it (a subquery's own)."""
    newer = Workflow.alias("newer")
    return ~fn.EXISTS(
        newer.select(newer.id).where(
            (newer.run_id == run.run_id) & (newer.run_attempt > run.run_attempt)
        )
    )


def workflows_for_pr(pr_id):
    """The latest attempt of each run of a PR, with its job counts."""
    query = (
        Workflow.select(
            Workflow,
            fn.COUNT(WorkflowJob.id).alias("job_count"),
            count_where(WorkflowJob.conclusion.in_(FAILED_CONCLUSIONS)).alias("failed_job_count"),
            count_where(WorkflowJob.conclusion == "success").alias("successful_job_count"),
            count_where(WorkflowJob.status.not_in(("completed",))).alias("in_progress_job_count"),
        )
        .join(WorkflowJob, JOIN.LEFT_OUTER, on=(WorkflowJob.workflow == Workflow.id))
        .where((Workflow.pr == pr_id) & latest_attempt())
        .group_by(Workflow.id)
        .order_by(Workflow.created_at.desc(nulls="last"), Workflow.id.desc())
    )
    return [workflow_to_dict(w) for w in query]


def workflow_to_dict(w):
    """A run attempt as the API returns it (the seed's fields first)."""
    return {
        "id": w.id,
        "run_id": w.run_id,
        "workflow_name": w.workflow_name,
        "status": w.status,
        "conclusion": w.conclusion,
        "job_count": getattr(w, "job_count", None),
        "failed_job_count": getattr(w, "failed_job_count", None),
        "successful_job_count": getattr(w, "successful_job_count", None),
        "in_progress_job_count": getattr(w, "in_progress_job_count", None),
        "html_url": w.html_url,
        "head_sha": w.head_sha,
        "head_branch": w.head_branch,
        "event": w.event,
        "run_number": w.run_number,
        "run_attempt": w.run_attempt,
        "created_at": iso(w.created_at),
        "started_at": iso(w.started_at),
        "completed_at": iso(w.completed_at),
        "failure_details": w.failure_details,
        "repo": w.repo_full_name,
    }


def workflow_summary(pr_id):
    """Counts of a PR's latest run attempts and their jobs, by outcome."""
    runs = Workflow.select().where((Workflow.pr == pr_id) & latest_attempt())
    workflows = (
        runs.select(
            fn.COUNT(Workflow.id).alias("total_workflows"),
            count_where(Workflow.conclusion == "success").alias("successful_workflows"),
            count_where(Workflow.conclusion.in_(FAILED_CONCLUSIONS)).alias("failed_workflows"),
            count_where(Workflow.status == "in_progress").alias("in_progress_workflows"),
            count_where(Workflow.status.in_(WAITING)).alias("queued_workflows"),
        )
        .dicts()
        .get()
    )
    jobs = (
        WorkflowJob.select(
            fn.COUNT(WorkflowJob.id).alias("total_jobs"),
            count_where(WorkflowJob.conclusion == "success").alias("successful_jobs"),
            count_where(WorkflowJob.conclusion.in_(FAILED_CONCLUSIONS)).alias("failed_jobs"),
            count_where(WorkflowJob.status.not_in(("completed",))).alias("in_progress_jobs"),
        )
        .where(WorkflowJob.workflow.in_(runs.select(Workflow.id)))
        .dicts()
        .get()
    )
    return {"workflows": _ints(workflows), "jobs": _ints(jobs)}


WAITING = ("queued", "requested", "waiting", "pending")


def _ints(row):
    return {key: int(value or 0) for key, value in row.items()}


# -- jobs ------------------------------------------------------------------------------------


def _failed_first():
    return Case(None, [(WorkflowJob.conclusion.in_(FAILED_CONCLUSIONS), 0)], 1)


def repo_of_workflow(workflow_id):
    """The repository of a run attempt (None when it is not stored)."""
    return Workflow.select(Workflow.repo_full_name).where(Workflow.id == workflow_id).scalar()


def jobs_for_workflow(workflow_id):
    """A run attempt's jobs, failed ones first."""
    if not Workflow.select().where(Workflow.id == workflow_id).exists():
        raise NotFound(f"workflow {workflow_id} does not exist")
    query = (
        WorkflowJob.select()
        .where(WorkflowJob.workflow == workflow_id)
        .order_by(_failed_first(), WorkflowJob.started_at.asc(nulls="last"), WorkflowJob.id)
    )
    return [job_to_dict(job) for job in query]


def job_to_dict(job):
    """A job as the API returns it."""
    return {
        "id": job.id,
        "job_id": job.job_id,
        "job_name": job.job_name,
        "status": job.status,
        "conclusion": job.conclusion,
        "failed_steps": job.failed_steps,
        "error_message": job.error_message,
        "html_url": job.html_url,
        "runner_name": job.runner_name,
        "workflow_id": job.workflow_id,
        "run_attempt": job.run_attempt,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.completed_at),
        "labels": job.labels,
        "steps": job.steps,
        **failure_fields(job),
    }


def failure_fields(job):
    """What the diagnosis says about a job (null until it is diagnosed): the line's rule,
    signature, excerpt and source, the failure's class and its evidence (an object, with
    links: the passing attempt, the base-branch runs, the other PRs)."""
    return {
        "failure_class": job.failure_class,
        "failure_rule": job.failure_rule,
        "failure_signature": job.failure_signature,
        "failure_excerpt": job.failure_excerpt,
        "failure_source": job.failure_source,
        "log_truncated": bool(job.log_truncated),
        "evidence": _json_object(job.evidence),
        "diagnosed_at": iso(job.diagnosed_at),
    }


def _json_object(text):
    try:
        found = json.loads(text) if text else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def failed_jobs_for_pr(pr_id):
    """The failed jobs of a PR's latest run attempts, newest run first."""
    query = (
        WorkflowJob.select(WorkflowJob, Workflow)
        .join(Workflow, on=(WorkflowJob.workflow == Workflow.id))
        .where(
            (Workflow.pr == pr_id)
            & latest_attempt()
            & WorkflowJob.conclusion.in_(FAILED_CONCLUSIONS)
        )
        .order_by(Workflow.created_at.desc(nulls="last"), WorkflowJob.job_name)
    )
    jobs = list(query)
    found = analyses.by_keys([analyses.key_of(job) for job in jobs])
    return [
        {**failed_job_to_dict(job), "analysis": found.get(analyses.key_of(job))} for job in jobs
    ]


def failed_job_to_dict(job):
    """A failed job with its run's name, number and URL, as the seed returns it."""
    return {
        "job_id": job.job_id,
        "job_name": job.job_name,
        "workflow_name": job.workflow.workflow_name,
        "run_number": job.workflow.run_number,
        "failed_steps": job.failed_steps,
        "error_message": job.error_message,
        "html_url": job.html_url,
        "workflow_url": job.workflow.html_url,
        "conclusion": job.conclusion,
        "run_attempt": job.run_attempt,
        "workflow_id": job.workflow_id,
        "completed_at": iso(job.completed_at),
        **failure_fields(job),
    }


def delivery_outcomes(hours=24):
    """{outcome: count} of the deliveries received in the last `hours`."""
    since = utcnow() - datetime.timedelta(hours=hours)
    query = (
        # COUNT(*): Postgres counts from the (received_at, outcome) index alone.
        Delivery.select(Delivery.outcome, fn.COUNT(SQL("*")))
        .where(Delivery.received_at >= since)
        .group_by(Delivery.outcome)
        .tuples()
    )
    return dict(query)
