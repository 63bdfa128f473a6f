"""AI analysis: one row per analysed failure (head SHA, job name, signature), doubling as its
task (due until done), with the verdict, its evidence, tokens and latency; and the feedback on
verdicts, from people and from later events; and the PR's description."""

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    FloatField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    # The PR's description: Claude is given it with the changes.
    migrator.migrate(migrator.add_column("prs", "body", TextField(null=True)))
    db.create_tables([_analyses(db), _feedback(db)])


def _analyses(db):
    class Analysis(Model):
        key = CharField(max_length=700, unique=True)  # head SHA, job name, signature
        job_id = BigIntegerField()
        pr_id = BigIntegerField(null=True)
        installation_id = BigIntegerField(null=True)
        head_sha = CharField()
        job_name = TextField(null=True)
        state = CharField(default="due")  # due, done, failed, skipped
        attempts = IntegerField(default=0)
        due_at = DateTimeField()
        claimed_by = CharField(null=True)
        claimed_until = DateTimeField(null=True)
        model = CharField(null=True)
        verdict = CharField(null=True)
        confidence = FloatField(null=True)
        explanation = TextField(null=True)
        fix = TextField(null=True)
        evidence = TextField(null=True)  # JSON list of quoted lines
        grounded = BooleanField(null=True)
        reason = TextField(null=True)  # why a verdict became unsure, or why it was skipped
        input_tokens = IntegerField(null=True)
        output_tokens = IntegerField(null=True)
        cache_read_tokens = IntegerField(null=True)
        cache_creation_tokens = IntegerField(null=True)
        latency_ms = IntegerField(null=True)
        error = TextField(null=True)
        created_at = DateTimeField()
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "analyses"
            indexes = (
                (("state", "due_at"), False),
                (("job_id",), False),
                (("head_sha",), False),
                (("installation_id", "finished_at"), False),
            )

    return Analysis


def _feedback(db):
    class AnalysisFeedback(Model):
        analysis_id = BigIntegerField()
        correct = BooleanField()
        note = TextField(null=True)
        source = CharField()  # user, or auto (a later event contradicted the verdict)
        who = CharField(null=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "analysis_feedback"
            indexes = ((("analysis_id",), False),)

    return AnalysisFeedback
