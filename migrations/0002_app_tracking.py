"""What a GitHub App needs beyond the seed: repositories, installations, GitHub's timestamps and
status ranks for order-independent upserts, job attempts/steps/labels, and the deliveries log."""

import datetime

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

EPOCH = datetime.datetime(1970, 1, 1)


def up(migrator, db):
    _extend_prs(migrator)
    _extend_workflows(migrator)
    _extend_jobs(migrator)
    db.create_tables(_new_tables(db))
    _backfill(db)


# Rows written before this migration get the rank and time their status and timestamps imply,
# so a late event cannot move them backwards (the same order as prmonitor.payloads).
STATUS_RANK_SQL = (
    "CASE status WHEN 'queued' THEN 1 WHEN 'in_progress' THEN 2 WHEN 'completed' THEN 3 ELSE 0 END"
)
TIMES = {
    "prs": ("created_at",),
    "workflows": ("created_at", "started_at", "completed_at"),
    "workflow_jobs": ("started_at", "completed_at"),
}


def _backfill(db):
    for table, columns in TIMES.items():
        _normalise_times(db, table, columns)
    for table in ("workflows", "workflow_jobs"):
        db.execute_sql(
            f"UPDATE {table} SET status_rank = {STATUS_RANK_SQL}, "
            "updated_at = COALESCE(completed_at, started_at, updated_at) "
            "WHERE status IS NOT NULL"
        )


def _normalise_times(db, table, columns):
    """SQLite keeps whatever text was written (the original monitor wrote ISO 8601 with a Z);
    store naive UTC 'YYYY-MM-DD HH:MM:SS' throughout, since SQLite compares times as text."""
    rows = db.execute_sql(f"SELECT id, {', '.join(columns)} FROM {table}").fetchall()
    for row_id, *values in rows:
        fixed = [_naive_utc(value) for value in values]
        if fixed != values:
            assignments = ", ".join(f"{column} = {db.param}" for column in columns)
            db.execute_sql(
                f"UPDATE {table} SET {assignments} WHERE id = {db.param}", (*fixed, row_id)
            )


def _naive_utc(value):
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
    return parsed.replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S")


def _extend_prs(migrator):
    migrator.migrate(
        migrator.add_column("prs", "repo_full_name", CharField(default="")),
        migrator.add_column("prs", "repo_id", BigIntegerField(null=True)),
        migrator.add_column("prs", "installation_id", BigIntegerField(null=True)),
        migrator.add_column("prs", "title", TextField(null=True)),
        migrator.add_column("prs", "author", CharField(null=True)),
        migrator.add_column("prs", "head_sha", CharField(null=True)),
        migrator.add_column("prs", "head_ref", TextField(null=True)),
        migrator.add_column("prs", "base_ref", TextField(null=True)),
        migrator.add_column("prs", "state", CharField(null=True)),
        migrator.add_column("prs", "html_url", TextField(null=True)),
        migrator.add_column("prs", "updated_at", DateTimeField(null=True)),
        # A PR number is unique within one repository, not across the installation.
        migrator.drop_index("prs", "prs_pr_number"),
        migrator.add_index("prs", ("pr_number", "repo_full_name"), unique=True),
    )


def _extend_workflows(migrator):
    migrator.migrate(
        migrator.add_column("workflows", "repo_full_name", CharField(default="")),
        migrator.add_column("workflows", "repo_id", BigIntegerField(null=True)),
        migrator.add_column("workflows", "installation_id", BigIntegerField(null=True)),
        migrator.add_column("workflows", "head_branch", TextField(null=True)),
        migrator.add_column("workflows", "event", CharField(null=True)),
        migrator.add_column("workflows", "status_rank", IntegerField(default=-1)),
        migrator.add_column("workflows", "updated_at", DateTimeField(default=EPOCH)),
        migrator.add_index("workflows", ("repo_full_name", "head_sha")),
    )


def _extend_jobs(migrator):
    migrator.migrate(
        migrator.add_column("workflow_jobs", "run_id", BigIntegerField(null=True)),
        migrator.add_column("workflow_jobs", "run_attempt", IntegerField(default=1)),
        migrator.add_column("workflow_jobs", "head_sha", CharField(null=True)),
        migrator.add_column("workflow_jobs", "workflow_name", TextField(null=True)),
        migrator.add_column("workflow_jobs", "created_at", DateTimeField(null=True)),
        migrator.add_column("workflow_jobs", "updated_at", DateTimeField(default=EPOCH)),
        migrator.add_column("workflow_jobs", "status_rank", IntegerField(default=-1)),
        migrator.add_column("workflow_jobs", "steps", TextField(null=True)),
        migrator.add_column("workflow_jobs", "labels", TextField(null=True)),
    )


def _new_tables(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Pr(Base):
        class Meta:
            table_name = "prs"

    class PrHead(Base):
        pr = ForeignKeyField(Pr, column_name="pr_id")
        repo_full_name = CharField()
        head_sha = CharField()

        class Meta:
            table_name = "pr_heads"
            indexes = ((("repo_full_name", "head_sha", "pr"), True),)

    class Delivery(Base):
        delivery_id = CharField(unique=True)
        event = CharField()
        action = CharField(null=True)
        received_at = DateTimeField()
        outcome = CharField()
        error = TextField(null=True)
        attempts = IntegerField(default=1)

        class Meta:
            table_name = "deliveries"

    class Installation(Base):
        installation_id = BigIntegerField(unique=True)
        account_login = CharField(null=True)
        account_type = CharField(null=True)
        state = CharField(default="active")
        updated_at = DateTimeField()

        class Meta:
            table_name = "installations"

    class Repository(Base):
        repo_id = BigIntegerField(unique=True)
        full_name = CharField()
        installation_id = BigIntegerField(null=True)
        active = BooleanField(default=True)
        updated_at = DateTimeField()

        class Meta:
            table_name = "repositories"

    return [PrHead, Delivery, Installation, Repository]
