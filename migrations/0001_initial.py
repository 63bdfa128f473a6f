"""The original PR Monitor's tables, as its workflow-tracking document describes them.

A database made by the original monitor already has these tables: they are kept as they are
(safe=True), and 0002 brings them up to date.
"""

from peewee import (
    BigIntegerField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Pr(Base):
        pr_number = IntegerField(unique=True)
        created_at = DateTimeField(null=True)

        class Meta:
            table_name = "prs"

    class Workflow(Base):
        pr = ForeignKeyField(Pr, column_name="pr_id", null=True)
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

        class Meta:
            table_name = "workflows"
            indexes = ((("run_id", "run_attempt"), True),)

    class WorkflowJob(Base):
        workflow = ForeignKeyField(Workflow, column_name="workflow_id")
        pr = ForeignKeyField(Pr, column_name="pr_id", null=True)
        job_id = BigIntegerField(unique=True)
        job_name = TextField(null=True)
        status = CharField(null=True)
        conclusion = CharField(null=True)
        started_at = DateTimeField(null=True)
        completed_at = DateTimeField(null=True)
        html_url = TextField(null=True)
        runner_name = TextField(null=True)
        failed_steps = TextField(null=True)
        error_message = TextField(null=True)

        class Meta:
            table_name = "workflow_jobs"

    db.create_tables([Pr, Workflow, WorkflowJob], safe=True)
