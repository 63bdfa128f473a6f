"""The tables: the seed's prs, workflows and workflow_jobs, and what a GitHub App adds."""

import datetime

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    fn,
)

from prmonitor.storage.db import database

# Placeholder rows (a job seen before its run) sort before every real state.
PLACEHOLDER_RANK = -1
EPOCH = datetime.datetime(1970, 1, 1)


def utcnow():
    """Naive UTC at one-second resolution: the one datetime format stored (SQLite compares text)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)


ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(value):
    """A stored time as ISO 8601 UTC text (`2026-11-20T10:00:10Z`), or None: how the API and
    its JSON show every time."""
    return value.strftime(ISO_FORMAT) if value else None


def from_iso(text):
    """iso()'s text back as an aware UTC datetime; None for None or any other text."""
    try:
        return datetime.datetime.strptime(text, ISO_FORMAT).replace(tzinfo=datetime.UTC)
    except (TypeError, ValueError):
        return None


def true_first(condition):
    """An ORDER BY term putting the rows where `condition` holds first. NULL (a PR of unknown
    state, a run without a conclusion yet) counts as false: a bare DESC would sort it last on
    SQLite and first on Postgres."""
    return fn.COALESCE(condition, False).desc()


class BaseModel(Model):
    """The models' shared database (the proxy) and table naming."""

    class Meta:
        database = database
        legacy_table_names = False


class Pr(BaseModel):
    """A pull request of a repository: the seed's prs row, with its head, state and tracking."""

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
    tracking = CharField(default="auto")
    reconciled_at = DateTimeField(null=True)
    draft = BooleanField(null=True)
    body = TextField(null=True)

    class Meta:
        table_name = "prs"
        indexes = (
            (("pr_number", "repo_full_name"), True),
            # The PR list, newest first (storage.listing): its open part, or one state; the
            # rest; one repository's.
            (("state", "updated_at", "id"), False),
            (("updated_at", "id"), False),
            (("repo_full_name", "updated_at", "id"), False),
            (("repo_full_name", "state", "updated_at", "id"), False),
        )


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
    jobs_synced_at = DateTimeField(null=True)

    class Meta:
        table_name = "workflows"
        indexes = (
            (("run_id", "run_attempt"), True),
            (("repo_full_name", "head_sha"), False),
            (("repo_full_name", "created_at"), False),  # a repository's trends
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
    # Written by the diagnosis (prmonitor.failures), never by a delivery or a poll.
    failure_rule = CharField(null=True)
    failure_signature = TextField(null=True)  # None for a generic line: never evidence
    failure_excerpt = TextField(null=True)
    failure_source = CharField(null=True)
    log_truncated = BooleanField(null=True)  # None until diagnosed
    failure_class = CharField(null=True)
    evidence = TextField(null=True)
    diagnosed_at = DateTimeField(null=True)
    classified_at = DateTimeField(null=True)  # None: the class may be out of date

    class Meta:
        table_name = "workflow_jobs"
        indexes = (
            (("job_id",), True),
            (("head_sha", "job_name", "failure_class"), False),
            (("failure_signature",), False),
            (("failure_class", "classified_at"), False),
        )


class DiagnosisTask(BaseModel):
    """One per failed job: read its log and classify it, off the request path. `due` until a
    worker has done it (`done`) or given up on its log (`gave_up`, the step name stays)."""

    job_id = BigIntegerField(unique=True)
    state = CharField(default="due")
    attempts = IntegerField(default=0)
    due_at = DateTimeField(default=utcnow)
    claimed_by = CharField(null=True)
    claimed_until = DateTimeField(null=True)
    error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)

    class Meta:
        table_name = "diagnosis_tasks"
        indexes = ((("state", "due_at"), False),)


class NotifyOutbox(BaseModel):
    """A PR whose notifications are due (prmonitor.notify): one row per PR, its changes
    coalesced; `pending_since` None when nothing is pending. `version` rises with every change, so a
    send that rendered an older version leaves the row due."""

    pr_id = BigIntegerField(unique=True)
    pending_since = DateTimeField(null=True)
    changed_at = DateTimeField(null=True)
    settled = BooleanField(default=False)
    due_at = DateTimeField(null=True)
    version = IntegerField(default=0)
    attempts = IntegerField(default=0)
    claimed_by = CharField(null=True)
    claimed_until = DateTimeField(null=True)
    error = TextField(null=True)
    sent_at = DateTimeField(null=True)

    class Meta:
        table_name = "notify_outbox"
        indexes = ((("pending_since",), False),)


class NotifyChannel(BaseModel):
    """What one channel last published for a PR: the comment's or check run's id (for
    `head_sha`), the hash of the body sent, and the channel's own memo (JSON)."""

    pr_id = BigIntegerField()
    channel = CharField()
    head_sha = CharField(null=True)
    remote_id = BigIntegerField(null=True)
    body_hash = CharField(null=True)
    memo = TextField(null=True)
    updated_at = DateTimeField(null=True)

    class Meta:
        table_name = "notify_channels"
        indexes = ((("pr_id", "channel"), True),)


class Notification(BaseModel):
    """One notification sent (or failed): channel, action, GitHub's id, the body's hash."""

    pr_id = BigIntegerField()
    channel = CharField()
    action = CharField()
    installation_id = BigIntegerField(null=True)
    head_sha = CharField(null=True)
    body_hash = CharField(null=True)
    remote_id = BigIntegerField(null=True)
    headline = TextField(null=True)
    error = TextField(null=True)
    sent_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "notifications"
        indexes = ((("pr_id", "sent_at"), False), (("installation_id", "sent_at"), False))


class Analysis(BaseModel):
    """An AI analysis of one failure (prmonitor.failures.analysis), keyed by head SHA, job
    name and signature; `due` until done (it is its own task), then its verdict."""

    key = CharField(max_length=700, unique=True)
    job_id = BigIntegerField()
    pr_id = BigIntegerField(null=True)
    installation_id = BigIntegerField(null=True)
    head_sha = CharField()
    job_name = TextField(null=True)
    state = CharField(default="due")
    attempts = IntegerField(default=0)
    due_at = DateTimeField(default=utcnow)
    claimed_by = CharField(null=True)
    claimed_until = DateTimeField(null=True)
    model = CharField(null=True)
    verdict = CharField(null=True)
    confidence = FloatField(null=True)
    explanation = TextField(null=True)
    fix = TextField(null=True)
    evidence = TextField(null=True)
    grounded = BooleanField(null=True)
    reason = TextField(null=True)
    input_tokens = IntegerField(null=True)
    output_tokens = IntegerField(null=True)
    cache_read_tokens = IntegerField(null=True)
    cache_creation_tokens = IntegerField(null=True)
    latency_ms = IntegerField(null=True)
    error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)

    class Meta:
        table_name = "analyses"
        indexes = (
            (("state", "due_at"), False),
            (("job_id",), False),
            (("head_sha",), False),
            (("installation_id", "finished_at"), False),
        )


class AnalysisFeedback(BaseModel):
    """Whether a verdict was right: said by a person, or by a later event (`source` auto)."""

    analysis_id = BigIntegerField()
    correct = BooleanField()
    note = TextField(null=True)
    source = CharField()
    who = CharField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "analysis_feedback"
        indexes = ((("analysis_id",), False),)


class Delivery(BaseModel):
    """One webhook delivery id: its event, outcome and how often it came."""

    delivery_id = CharField(unique=True)
    event = CharField()
    action = CharField(null=True)
    received_at = DateTimeField(default=utcnow)
    outcome = CharField()
    error = TextField(null=True)
    attempts = IntegerField(default=1)

    class Meta:
        table_name = "deliveries"
        indexes = ((("received_at", "outcome"), False),)


class Installation(BaseModel):
    """An installation of the App on an account, and its state."""

    installation_id = BigIntegerField(unique=True)
    account_login = CharField(null=True)
    account_type = CharField(null=True)
    state = CharField(default="active")
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "installations"


class Repository(BaseModel):
    """A repository an installation covers; inactive once removed."""

    repo_id = BigIntegerField(unique=True)
    full_name = CharField()
    installation_id = BigIntegerField(null=True)
    active = BooleanField(default=True)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "repositories"


class HttpCache(BaseModel):
    """The ETag and body of a GitHub answer, so a restarted poller still asks conditionally."""

    url = CharField(max_length=2048, unique=True)
    etag = CharField()
    body = TextField()
    saved_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "http_cache"


class Lease(BaseModel):
    """Who may run the poller until when; `status` is the holder's last cycle, as JSON."""

    name = CharField(unique=True)
    holder = CharField()
    expires_at = DateTimeField()
    acquired_at = DateTimeField(default=utcnow)
    status = TextField(null=True)

    class Meta:
        table_name = "leases"


class Redelivery(BaseModel):
    """A failed delivery GitHub was asked to send again (at most once each)."""

    hook_delivery_id = BigIntegerField(unique=True)
    guid = CharField()
    event = CharField(null=True)
    requested_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "redeliveries"


class WebSession(BaseModel):
    """A person signed in with GitHub: what their account can see, and their token."""

    key = CharField(max_length=64, unique=True)
    github_id = BigIntegerField()
    login = CharField()
    token = TextField()
    refresh_token = TextField(null=True)
    token_expires_at = DateTimeField(null=True)
    repos = TextField()
    fetched_at = DateTimeField()
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()

    class Meta:
        table_name = "web_sessions"
        indexes = ((("expires_at",), False),)


MODELS = [
    Pr,
    PrHead,
    Workflow,
    WorkflowJob,
    DiagnosisTask,
    NotifyOutbox,
    NotifyChannel,
    Notification,
    Analysis,
    AnalysisFeedback,
    Delivery,
    Installation,
    Repository,
    HttpCache,
    Lease,
    Redelivery,
    WebSession,
]

# Tracking states of a pull request (prs.tracking).
TRACKED = ("auto", "manual")

FAILED_CONCLUSIONS = ("failure", "timed_out", "startup_failure")
