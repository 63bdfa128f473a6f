"""The rows a PR's notifications are rendered from: the latest attempt of each run of its head
with their jobs, its earlier failures (earlier attempts, earlier heads), and which failures
are still waiting for their diagnosis."""

from peewee import fn

from prmonitor.storage.models import (
    FAILED_CONCLUSIONS,
    DiagnosisTask,
    Pr,
    Workflow,
    WorkflowJob,
)

EARLIER = 10  # earlier failures shown at most


def pr(pr_id):
    """The PR, or None when it is gone."""
    return Pr.get_or_none(Pr.id == pr_id)


def head_runs(pr):
    """The latest attempt of each run of the PR's head, oldest run first."""
    latest = (
        Workflow.select(Workflow.run_id, fn.MAX(Workflow.run_attempt).alias("attempt"))
        .where(Workflow.repo_full_name == pr.repo_full_name, Workflow.head_sha == pr.head_sha)
        .group_by(Workflow.run_id)
    )
    rows = Workflow.select().where(
        Workflow.repo_full_name == pr.repo_full_name, Workflow.head_sha == pr.head_sha
    )
    wanted = {(row.run_id, row.attempt) for row in latest}
    runs = [run for run in rows if (run.run_id, run.run_attempt) in wanted]
    return sorted(runs, key=lambda run: (run.created_at is None, run.created_at, run.run_id))


def jobs_of(workflow_ids):
    """The jobs of these run attempts, in the order GitHub created them."""
    if not workflow_ids:
        return []
    return list(
        WorkflowJob.select(WorkflowJob, Workflow)
        .join(Workflow)
        .where(WorkflowJob.workflow.in_(list(workflow_ids)))
        .order_by(WorkflowJob.job_id)
    )


def earlier_failures(pr, current_ids, limit=EARLIER):
    """The PR's failed jobs outside the current attempts (`current_ids`), newest first."""
    query = (
        WorkflowJob.select(WorkflowJob, Workflow)
        .join(Workflow)
        .where(
            WorkflowJob.pr == pr.id,
            WorkflowJob.conclusion.in_(FAILED_CONCLUSIONS),
            WorkflowJob.workflow.not_in(list(current_ids) or [0]),
        )
        .order_by(WorkflowJob.completed_at.desc(nulls="LAST"), WorkflowJob.job_id.desc())
        .limit(limit)
    )
    return list(query)


def undiagnosed(job_ids):
    """Of these failed jobs, those whose diagnosis task is still due."""
    if not job_ids:
        return set()
    rows = DiagnosisTask.select(DiagnosisTask.job_id).where(
        DiagnosisTask.job_id.in_(list(job_ids)), DiagnosisTask.state == "due"
    )
    return {row.job_id for row in rows}
