"""The diagnoses: the facts about a failed job its diagnosis reads, the write of what it found,
and how the API and `prmonitor show` read them (one job by GitHub's id with its excerpt, a PR's
failed jobs counted by class)."""

from dataclasses import dataclass

from peewee import JOIN, fn

from prmonitor.storage.models import (
    FAILED_CONCLUSIONS,
    Pr,
    Repository,
    Workflow,
    WorkflowJob,
    utcnow,
)
from prmonitor.storage.queries import NotFound, job_to_dict, latest_attempt


@dataclass(frozen=True)
class Job:
    """What the diagnosis of a failed job reads before it calls GitHub."""

    job_id: int
    repo_full_name: str
    installation_id: int | None
    runner_name: str | None
    steps: str | None  # the stored JSON
    failure_class: str | None = None  # as last classified


def job_to_read(job_id):
    """The stored job with its run's repository and installation (the repository's, for a run
    a repository webhook delivered without one), or None."""
    installation = fn.COALESCE(Workflow.installation_id, Repository.installation_id)
    row = (
        WorkflowJob.select(
            WorkflowJob.job_id,
            WorkflowJob.runner_name,
            WorkflowJob.steps,
            WorkflowJob.failure_class,
            Workflow.repo_full_name,
            installation.alias("installation_id"),
        )
        .join(Workflow)
        .join(
            Repository,
            on=(Repository.full_name == Workflow.repo_full_name),
            join_type=JOIN.LEFT_OUTER,
        )
        .where(WorkflowJob.job_id == job_id)
        .dicts()
        .first()
    )
    if row is None:
        return None
    return Job(
        row["job_id"],
        row["repo_full_name"],
        row["installation_id"],
        row["runner_name"],
        row["steps"],
        row["failure_class"],
    )


def store(job_id, columns, line=None):
    """Write what the diagnosis found on the job (failure_* columns, log_truncated); `line`,
    when given, becomes its error_message (else the failed step's name stays)."""
    values = {getattr(WorkflowJob, name): value for name, value in columns.items()}
    values[WorkflowJob.diagnosed_at] = utcnow()
    if line is not None:
        values[WorkflowJob.error_message] = line
    WorkflowJob.update(values).where(WorkflowJob.job_id == job_id).execute()


# The classes prmonitor.failures.classify gives, in its order of precedence.
FAILURE_CLASSES = ("infrastructure", "flaky", "broken_base", "seen_elsewhere", "new")
UNCLASSIFIED = "unclassified"  # failed, not diagnosed yet


def job_with_run(job_id):
    """The job with GitHub's id `job_id`, with its run (`job.workflow`); None when not stored."""
    return (
        WorkflowJob.select(WorkflowJob, Workflow)
        .join(Workflow, on=(WorkflowJob.workflow == Workflow.id))
        .where(WorkflowJob.job_id == job_id)
        .first()
    )


def job_by_github_id(job_id):
    """One job by GitHub's job id, with its run's name, number and URL, its repository and its
    PR's number (None when it has none); NotFound when it is not stored."""
    job = job_with_run(job_id)
    if job is None:
        raise NotFound(f"job {job_id} is not stored")
    return {
        **job_to_dict(job),
        "workflow_name": job.workflow.workflow_name,
        "run_id": job.workflow.run_id,
        "run_number": job.workflow.run_number,
        "workflow_url": job.workflow.html_url,
        "head_sha": job.head_sha,
        "repo": job.workflow.repo_full_name,
        "pr_number": Pr.select(Pr.pr_number).where(Pr.id == job.pr_id).scalar(),
    }


def failure_class_counts(pr_id):
    """{class: count} of the failed jobs of a PR's latest run attempts, every class present,
    UNCLASSIFIED for the failures not diagnosed yet."""
    runs = Workflow.select(Workflow.id).where((Workflow.pr == pr_id) & latest_attempt())
    failure_class = fn.COALESCE(WorkflowJob.failure_class, UNCLASSIFIED)
    query = (
        WorkflowJob.select(failure_class, fn.COUNT(WorkflowJob.id))
        .where(WorkflowJob.workflow.in_(runs) & WorkflowJob.conclusion.in_(FAILED_CONCLUSIONS))
        .group_by(failure_class)
        .tuples()
    )
    counts = dict.fromkeys((*FAILURE_CLASSES, UNCLASSIFIED), 0)
    return {**counts, **{name: int(count) for name, count in query}}
