"""Notifications: the outbox (one row per pull request whose failure picture changed, due once
its quiet period is over), what each channel last published for a PR (the sticky comment's id,
the check run of its head, the body's hash), and the log of everything sent. And whether a PR
is a draft: drafts get no notifications by default."""

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
    migrator.migrate(migrator.add_column("prs", "draft", BooleanField(null=True)))
    db.create_tables([_outbox(db), _channel_states(db), _notifications(db)])


def _outbox(db):
    class NotifyOutbox(Model):
        pr_id = BigIntegerField(unique=True)
        pending_since = DateTimeField(null=True)  # None: nothing pending
        changed_at = DateTimeField(null=True)
        settled = BooleanField(default=False)  # every run of the head had completed
        due_at = DateTimeField(null=True)  # not before (a retry's backoff)
        version = IntegerField(default=0)  # raised by every change
        attempts = IntegerField(default=0)
        claimed_by = CharField(null=True)
        claimed_until = DateTimeField(null=True)
        error = TextField(null=True)
        sent_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "notify_outbox"
            indexes = ((("pending_since",), False),)

    return NotifyOutbox


def _channel_states(db):
    class NotifyChannel(Model):
        pr_id = BigIntegerField()
        channel = CharField()
        head_sha = CharField(null=True)
        remote_id = BigIntegerField(null=True)
        body_hash = CharField(null=True)
        memo = TextField(null=True)
        updated_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "notify_channels"
            indexes = ((("pr_id", "channel"), True),)

    return NotifyChannel


def _notifications(db):
    class Notification(Model):
        pr_id = BigIntegerField()
        channel = CharField()
        action = CharField()
        installation_id = BigIntegerField(null=True)
        head_sha = CharField(null=True)
        body_hash = CharField(null=True)
        remote_id = BigIntegerField(null=True)
        headline = TextField(null=True)
        error = TextField(null=True)
        sent_at = DateTimeField()

        class Meta:
            database = db
            table_name = "notifications"
            # A PR's list (GET /api/prs/<n>/notifications); the pace of an installation's
            # content-creating requests (GitHub's secondary limits).
            indexes = ((("pr_id", "sent_at"), False), (("installation_id", "sent_at"), False))

    return Notification
