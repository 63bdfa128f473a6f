"""The reads behind a failure's class (passing attempts, base-branch runs, other PRs failing the
same way), the failures whose class may have changed since, and the write of class and evidence."""

from peewee import Case, fn

from prmonitor.storage import diagnoses
from prmonitor.storage.models import FAILED_CONCLUSIONS, Pr, Workflow, WorkflowJob, iso, utcnow
from prmonitor.storage.sql import execute

# A base breakage shows in the base branch's last runs before the PR's push.
BASE_RUNS_BEFORE = 5
BASE_FAILURES_READ = 10
# Classes later evidence can still change (precedence only rises as evidence arrives):
# infrastructure comes from the job itself, flaky from a pass that stays.
UPGRADABLE = ("new", "seen_elsewhere", "broken_base")


def failed_job(job_id):
    """The job with GitHub's id `job_id`, with its run (`job.workflow`); None when not stored.
    Its PR, when it has one, is read by `pr_of`."""
    return diagnoses.job_with_run(job_id)


def pr_of(job):
    """The PR a job belongs to, or None (a base-branch push run's job has none)."""
    if job.pr_id is None:
        return None
    return Pr.get_or_none(Pr.id == job.pr_id)


def _joined_runs():
    return WorkflowJob.select(WorkflowJob, Workflow).join(
        Workflow, on=(WorkflowJob.workflow == Workflow.id)
    )


def _same_job(job):
    """The rows of the same job as `job`: its name, its workflow's (when the job says it), in its
    repository."""
    condition = (WorkflowJob.job_name == job.job_name) & (
        Workflow.repo_full_name == job.workflow.repo_full_name
    )
    if job.workflow_name:
        condition &= WorkflowJob.workflow_name == job.workflow_name
    return condition


def job_link(row):
    """A job of another run (a _joined_runs row) as evidence links to it."""
    return {
        "job_id": row.job_id,
        "run_id": row.run_id,
        "run_attempt": row.run_attempt,
        "head_sha": row.head_sha,
        "html_url": row.html_url,
        "run_url": row.workflow.html_url,
        "created_at": iso(row.workflow.created_at),
    }


def passing_job(job):
    """The same job passing on the same commit (index head_sha, job_name), or None: a later
    attempt of the same run first, then the newest. Runs of another event do not count: a
    pull_request run tests the merge with the base, a push run the branch alone."""
    same_run = Case(None, [(WorkflowJob.run_id == job.run_id, 0)], 1)
    query = _joined_runs().where(
        (WorkflowJob.head_sha == job.head_sha)
        & _same_job(job)
        & (WorkflowJob.conclusion == "success")
        & (WorkflowJob.id != job.id)
    )
    if job.workflow.event:
        query = query.where((Workflow.event == job.workflow.event) | Workflow.event.is_null())
    found = query.order_by(same_run, WorkflowJob.run_attempt.desc(), WorkflowJob.id.desc())
    row = found.first()
    return job_link(row) if row is not None else None


def _base_jobs(job, base_ref):
    return _joined_runs().where(
        _same_job(job) & (Workflow.event == "push") & (Workflow.head_branch == base_ref)
    )


def base_failures(job, base_ref, pushed):
    """The same job failing with the same signature on push runs of `base_ref`, newest first,
    among the base branch's latest BASE_RUNS_BEFORE runs of the job up to `pushed` (the PR's
    push): what the PR started from. A later run does not count: once the PR is merged, its
    own failure shows on the base too. Read by signature first (index failure_signature): most
    failures have no such match, and the base branch's history is then never read."""
    found = list(
        _base_jobs(job, base_ref)
        .where(
            (WorkflowJob.failure_signature == job.failure_signature)
            & WorkflowJob.conclusion.in_(FAILED_CONCLUSIONS)
            & (Workflow.created_at <= pushed)
        )
        .order_by(Workflow.created_at.desc(), WorkflowJob.id.desc())
        .limit(BASE_FAILURES_READ)
    )
    latest = _latest_base_jobs(job, base_ref, pushed) if found else set()
    return [job_link(r) for r in found if r.id in latest]


def _latest_base_jobs(job, base_ref, pushed):
    query = (
        _base_jobs(job, base_ref)
        .where(Workflow.created_at <= pushed)
        .order_by(Workflow.created_at.desc(), WorkflowJob.id.desc())
        .limit(BASE_RUNS_BEFORE)
    )
    return {row.id for row in query}


def other_pr_failures(job, pr, since):
    """The PRs of other authors in the job's repository with a job failing with the same
    signature since `since` (index failure_signature), most recent first: one row each, with a
    failing job's link. An unknown author is nobody's: both must be known to differ."""
    last = fn.MAX(WorkflowJob.completed_at)
    query = (
        Pr.select(
            Pr.repo_full_name.alias("repo"),
            Pr.pr_number.alias("number"),
            Pr.html_url,
            Pr.author,
            fn.MAX(WorkflowJob.html_url).alias("job_url"),
        )
        .join(WorkflowJob, on=(WorkflowJob.pr == Pr.id))
        .where(
            (WorkflowJob.failure_signature == job.failure_signature)
            & WorkflowJob.conclusion.in_(FAILED_CONCLUSIONS)
            & (WorkflowJob.completed_at >= since)
            & (Pr.id != pr.id)
            & (Pr.repo_full_name == job.workflow.repo_full_name)
            & Pr.author.is_null(False)
            & (Pr.author != pr.author)
        )
        .group_by(Pr.id)
        .order_by(last.desc(), Pr.id.desc())
    )
    return list(query.dicts())


def store_class(row_id, failure_class, evidence_text, now=None):
    """Write a job's class and evidence (compact JSON text) together, in one UPDATE, and when."""
    WorkflowJob.update(
        failure_class=failure_class, evidence=evidence_text, classified_at=now or utcnow()
    ).where(WorkflowJob.id == row_id).execute()


def reclassify_candidates(since, limit):
    """GitHub's ids of the failures diagnosed since `since` whose class evidence that came later
    may change (outdated: classified_at None; index failure_class, classified_at), oldest
    first, at most `limit`. Each is classified again, and is no candidate after that."""
    query = (
        WorkflowJob.select(WorkflowJob.job_id)
        .where(
            WorkflowJob.failure_class.in_(UPGRADABLE)
            & WorkflowJob.classified_at.is_null()
            & (WorkflowJob.diagnosed_at >= since)
        )
        .order_by(WorkflowJob.id)
        .limit(limit)
    )
    return [row.job_id for row in query]


def outdate_by_commit(head_sha, job_name):
    """The failures of this job on this commit may now be flaky (it passed): classify them
    again. A delivery's statement, deferred: it travels with the transaction's next one."""

    def render(param):
        upgradable = ", ".join(f"'{name}'" for name in UPGRADABLE)
        return (
            f"UPDATE workflow_jobs SET classified_at = NULL WHERE head_sha = {param} AND "
            f"job_name = {param} AND failure_class IN ({upgradable}) AND classified_at IS NOT NULL"
        )

    execute("outdate_by_commit", render, [head_sha, job_name], deferred=True)


def outdate_by_signature(signature):
    """A failure with this signature was diagnosed: the others (and itself, which two workers
    diagnosing at once could each have classified without the other's) are classified again.
    Run after the diagnosis committed, so that the later of two such transactions sees both."""
    if signature is None:
        return 0
    return (
        WorkflowJob.update(classified_at=None)
        .where(
            (WorkflowJob.failure_signature == signature)
            & WorkflowJob.failure_class.in_(UPGRADABLE)
            & WorkflowJob.classified_at.is_null(False)
        )
        .execute()
    )
