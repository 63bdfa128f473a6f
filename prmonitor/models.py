"""Tables and their guarded upserts: a row only moves forward, whatever order events arrive in."""

import datetime
import json

from peewee import (
    EXCLUDED,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    fn,
)

from .db import database, is_postgres

# Placeholder rows (a job seen before its run) sort before every real state.
PLACEHOLDER_RANK = -1
EPOCH = datetime.datetime(1970, 1, 1)


def utcnow():
    """Naive UTC at one-second resolution: the one datetime format stored (SQLite compares text)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Pr(BaseModel):
    pr_number = IntegerField()
    repo_full_name = CharField(default="")
    repo_id = BigIntegerField(null=True)
    installation_id = BigIntegerField(null=True)
    title = TextField(null=True)
    author = CharField(null=True)
    head_sha = CharField(null=True)
    head_ref = TextField(null=True)
    base_ref = TextField(null=True)
    state = CharField(null=True)
    html_url = TextField(null=True)
    updated_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "prs"
        indexes = ((("pr_number", "repo_full_name"), True),)


class PrHead(BaseModel):
    """Every head SHA a PR has had, so a late run for an earlier push still finds its PR."""

    pr = ForeignKeyField(Pr, column_name="pr_id", backref="heads")
    repo_full_name = CharField()
    head_sha = CharField()

    class Meta:
        table_name = "pr_heads"
        indexes = ((("repo_full_name", "head_sha", "pr"), True),)


class Workflow(BaseModel):
    """One row per attempt of a workflow run: a re-run keeps run_id and raises run_attempt."""

    pr = ForeignKeyField(Pr, column_name="pr_id", null=True, backref="workflows")
    run_id = BigIntegerField()
    workflow_name = TextField(null=True)
    status = CharField(null=True)
    conclusion = CharField(null=True)
    head_sha = CharField(null=True)
    html_url = TextField(null=True)
    run_number = IntegerField(null=True)
    run_attempt = IntegerField(default=1)
    created_at = DateTimeField(null=True)
    started_at = DateTimeField(null=True)
    completed_at = DateTimeField(null=True)
    failure_details = TextField(null=True)
    repo_full_name = CharField(default="")
    repo_id = BigIntegerField(null=True)
    installation_id = BigIntegerField(null=True)
    head_branch = TextField(null=True)
    event = CharField(null=True)
    status_rank = IntegerField(default=PLACEHOLDER_RANK)
    updated_at = DateTimeField(default=EPOCH)

    class Meta:
        table_name = "workflows"
        indexes = (
            (("run_id", "run_attempt"), True),
            (("repo_full_name", "head_sha"), False),
        )


class WorkflowJob(BaseModel):
    """One row per job id; each attempt's jobs get new ids, so earlier attempts stay as they are."""

    workflow = ForeignKeyField(Workflow, column_name="workflow_id", backref="jobs")
    pr = ForeignKeyField(Pr, column_name="pr_id", null=True, backref="jobs")
    job_id = BigIntegerField()
    job_name = TextField(null=True)
    status = CharField(null=True)
    conclusion = CharField(null=True)
    started_at = DateTimeField(null=True)
    completed_at = DateTimeField(null=True)
    html_url = TextField(null=True)
    runner_name = TextField(null=True)
    failed_steps = TextField(null=True)
    error_message = TextField(null=True)
    run_id = BigIntegerField(null=True)
    run_attempt = IntegerField(default=1)
    head_sha = CharField(null=True)
    workflow_name = TextField(null=True)
    created_at = DateTimeField(null=True)
    updated_at = DateTimeField(default=EPOCH)
    status_rank = IntegerField(default=PLACEHOLDER_RANK)
    steps = TextField(null=True)
    labels = TextField(null=True)

    class Meta:
        table_name = "workflow_jobs"
        indexes = ((("job_id",), True),)


class Delivery(BaseModel):
    delivery_id = CharField(unique=True)
    event = CharField()
    action = CharField(null=True)
    received_at = DateTimeField(default=utcnow)
    outcome = CharField()
    error = TextField(null=True)
    attempts = IntegerField(default=1)

    class Meta:
        table_name = "deliveries"


class Installation(BaseModel):
    installation_id = BigIntegerField(unique=True)
    account_login = CharField(null=True)
    account_type = CharField(null=True)
    state = CharField(default="active")
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "installations"


class Repository(BaseModel):
    repo_id = BigIntegerField(unique=True)
    full_name = CharField()
    installation_id = BigIntegerField(null=True)
    active = BooleanField(default=True)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "repositories"


MODELS = [Pr, PrHead, Workflow, WorkflowJob, Delivery, Installation, Repository]


def _newer(model):
    """The ON CONFLICT guard: the incoming row is further along, or as far along but later."""
    return (EXCLUDED.status_rank > model.status_rank) | (
        (EXCLUDED.status_rank == model.status_rank) & (EXCLUDED.updated_at > model.updated_at)
    )


def upsert_workflow(row):
    """Insert or advance one run attempt; returns (id, pr_id) of the stored row."""
    keep = {"pr", "failure_details"}
    fields = [Workflow._meta.fields[name] for name in row if name not in keep]
    (
        Workflow.insert(**row)
        .on_conflict(
            conflict_target=[Workflow.run_id, Workflow.run_attempt],
            preserve=fields,
            where=_newer(Workflow),
        )
        .as_rowcount()
        .execute()
    )
    return _workflow_key(row["run_id"], row["run_attempt"])


def ensure_workflow(placeholder):
    """The run attempt a job belongs to, created as a placeholder when the job came first.

    Until the run's own event arrives, the placeholder is queued, or in progress once any of
    its jobs is: whichever job event comes first, the placeholder ends the same."""
    Workflow.insert(**placeholder).on_conflict(
        conflict_target=[Workflow.run_id, Workflow.run_attempt],
        update={Workflow.status: "in_progress"},
        where=(Workflow.status_rank == PLACEHOLDER_RANK) & (EXCLUDED.status == "in_progress"),
    ).execute()
    return _workflow_key(placeholder["run_id"], placeholder["run_attempt"])


def _workflow_key(run_id, run_attempt):
    return (
        Workflow.select(Workflow.id, Workflow.pr)
        .where((Workflow.run_id == run_id) & (Workflow.run_attempt == run_attempt))
        .tuples()
        .get()
    )


def upsert_job(row):
    """Insert or advance one job; a stored pr_id is never cleared. Returns True when written."""
    fields = [WorkflowJob._meta.fields[name] for name in row if name != "pr"]
    written = (
        WorkflowJob.insert(**row)
        .on_conflict(
            conflict_target=[WorkflowJob.job_id],
            preserve=fields,
            update={WorkflowJob.pr: fn.COALESCE(EXCLUDED.pr_id, WorkflowJob.pr)},
            where=_newer(WorkflowJob),
        )
        .as_rowcount()
        .execute()
    )
    return written > 0


def refresh_failure_details(workflow_id):
    """workflows.failure_details: this attempt's failed jobs and their failed steps, as JSON."""
    failed = (
        WorkflowJob.select(WorkflowJob.job_name, WorkflowJob.failed_steps)
        .where(
            (WorkflowJob.workflow == workflow_id) & WorkflowJob.conclusion.in_(FAILED_CONCLUSIONS)
        )
        .order_by(WorkflowJob.job_name)
        .tuples()
    )
    details = [{"job": name, "failed_steps": json.loads(steps or "[]")} for name, steps in failed]
    Workflow.update(failure_details=json.dumps(details) if details else None).where(
        Workflow.id == workflow_id
    ).execute()


FAILED_CONCLUSIONS = ("failure", "timed_out", "startup_failure")


def upsert_pr(row):
    """Insert or update a pull request unless the stored one is newer; returns its id."""
    fields = [Pr._meta.fields[name] for name in row]
    (
        Pr.insert(**row)
        .on_conflict(
            conflict_target=[Pr.pr_number, Pr.repo_full_name],
            preserve=fields,
            where=(Pr.updated_at.is_null() | (EXCLUDED.updated_at >= Pr.updated_at)),
        )
        .as_rowcount()
        .execute()
    )
    return pr_id_for(row["repo_full_name"], row["pr_number"])


def ensure_pr(row):
    """A pull request known only from a run's pull_requests hint: create it if it is new."""
    Pr.insert(**row).on_conflict_ignore().execute()
    return pr_id_for(row["repo_full_name"], row["pr_number"])


def pr_id_for(repo_full_name, pr_number):
    return (
        Pr.select(Pr.id)
        .where((Pr.repo_full_name == repo_full_name) & (Pr.pr_number == pr_number))
        .scalar()
    )


def add_pr_head(pr_id, repo_full_name, head_sha):
    PrHead.insert(
        pr=pr_id, repo_full_name=repo_full_name, head_sha=head_sha
    ).on_conflict_ignore().execute()


def lock_commit(repo_full_name, head_sha):
    """Serialise, until commit, the transactions that link one commit's runs to its PR.

    Without it, on Postgres a pull_request delivery and a run delivery for the same commit can
    each miss the row the other is inserting, and the run stays without its PR. SQLite needs
    nothing: its IMMEDIATE transactions already run one at a time.
    """
    if is_postgres():
        key = f"{repo_full_name}:{head_sha}"
        database.execute_sql("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


def link_commit(repo_full_name, head_sha, pr_id=None):
    """Attach the runs and jobs of one commit that have no PR yet to the PR whose head it is
    (`pr_id` when the run itself named it)."""
    pr_id = pr_id or (
        PrHead.select(PrHead.pr)
        .join(Pr)
        .where((PrHead.repo_full_name == repo_full_name) & (PrHead.head_sha == head_sha))
        .order_by((Pr.state == "open").desc(), Pr.id.desc())
        .limit(1)
        .scalar()
    )
    if pr_id is None:
        return None
    of_commit = (Workflow.repo_full_name == repo_full_name) & (Workflow.head_sha == head_sha)
    Workflow.update(pr=pr_id).where(of_commit & Workflow.pr.is_null()).execute()
    WorkflowJob.update(pr=pr_id).where(
        WorkflowJob.pr.is_null()
        & WorkflowJob.workflow.in_(Workflow.select(Workflow.id).where(of_commit))
    ).execute()
    return pr_id


def claim_delivery(delivery_id, event, action):
    """Record a delivery; False when it was already handled (a failed one may be handled again)."""
    claimed = (
        Delivery.insert(delivery_id=delivery_id, event=event, action=action, outcome="processing")
        .on_conflict(
            conflict_target=[Delivery.delivery_id],
            update={
                Delivery.outcome: "processing",
                Delivery.error: None,
                Delivery.received_at: utcnow(),
                Delivery.attempts: Delivery.attempts + 1,
            },
            where=Delivery.outcome.in_(RETRYABLE_OUTCOMES),
        )
        .as_rowcount()
        .execute()
    )
    return claimed > 0


RETRYABLE_OUTCOMES = ("failed", "invalid")


def finish_delivery(delivery_id, outcome, error=None):
    Delivery.update(outcome=outcome, error=error).where(
        Delivery.delivery_id == delivery_id
    ).execute()


def record_failed_delivery(delivery_id, event, action, outcome, error):
    """Outside the rolled-back transaction: remember that this delivery failed, and why."""
    Delivery.insert(
        delivery_id=delivery_id, event=event, action=action, outcome=outcome, error=error
    ).on_conflict(
        conflict_target=[Delivery.delivery_id],
        update={Delivery.outcome: outcome, Delivery.error: error},
        where=Delivery.outcome.not_in(("processed", "ignored")),
    ).execute()


def upsert_installation(row):
    fields = [Installation._meta.fields[name] for name in row]
    Installation.insert(**row, updated_at=utcnow()).on_conflict(
        conflict_target=[Installation.installation_id],
        preserve=[*fields, Installation.updated_at],
    ).execute()


def set_repositories(rows, active):
    """Mark repositories as installed (active) or removed; rows carry repo_id, full_name and
    installation_id."""
    for row in rows:
        Repository.insert(**row, active=active, updated_at=utcnow()).on_conflict(
            conflict_target=[Repository.repo_id],
            preserve=[
                Repository.full_name,
                Repository.installation_id,
                Repository.active,
                Repository.updated_at,
            ],
        ).execute()


def deactivate_installation_repositories(installation_id):
    Repository.update(active=False, updated_at=utcnow()).where(
        Repository.installation_id == installation_id
    ).execute()
