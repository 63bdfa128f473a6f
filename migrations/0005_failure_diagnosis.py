"""Failure diagnosis: what prmonitor read in a failed job's log (the line, the rule that picked
it, its context, its signature), the class it gave the failure with its evidence, and the queue
of diagnoses still to do (one task per failed job)."""

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("workflow_jobs", "failure_rule", CharField(null=True)),
        migrator.add_column("workflow_jobs", "failure_signature", TextField(null=True)),
        migrator.add_column("workflow_jobs", "failure_excerpt", TextField(null=True)),
        # Where the line came from: log, annotations, or steps (no log could be read).
        migrator.add_column("workflow_jobs", "failure_source", CharField(null=True)),
        migrator.add_column("workflow_jobs", "log_truncated", BooleanField(null=True)),
        migrator.add_column("workflow_jobs", "failure_class", CharField(null=True)),
        migrator.add_column("workflow_jobs", "evidence", TextField(null=True)),
        migrator.add_column("workflow_jobs", "diagnosed_at", DateTimeField(null=True)),
        # When the class was last computed; None again when evidence for it may have arrived
        # (the job passed on the same commit, a failure of the same signature was diagnosed).
        migrator.add_column("workflow_jobs", "classified_at", DateTimeField(null=True)),
        # Evidence for a class is found by commit (a re-run, another attempt) and by signature
        # (the base branch, other PRs): both are read for every diagnosed failure. The class in
        # the first: each job that passes outdates its failures on its commit (storage.evidence),
        # found by seeking the classes, not by reading every job of a commit (a large push's
        # one commit has thousands).
        migrator.add_index("workflow_jobs", ("head_sha", "job_name", "failure_class")),
        migrator.add_index("workflow_jobs", ("failure_signature",)),
        migrator.add_index("workflow_jobs", ("failure_class", "classified_at")),
    )
    db.create_tables([_diagnosis_tasks(db)])


def _diagnosis_tasks(db):
    class DiagnosisTask(Model):
        job_id = BigIntegerField(unique=True)
        state = CharField(default="due")
        attempts = IntegerField(default=0)
        due_at = DateTimeField()
        claimed_by = CharField(null=True)
        claimed_until = DateTimeField(null=True)
        error = TextField(null=True)
        created_at = DateTimeField()
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "diagnosis_tasks"
            indexes = ((("state", "due_at"), False),)

    return DiagnosisTask
