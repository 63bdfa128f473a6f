"""What the reconciliation poller keeps: which PRs it tracks and when each was last reconciled,
which runs' jobs are final, the ETags and bodies of GitHub's answers, the poller lease, and the
deliveries it asked GitHub to send again."""

import datetime

from peewee import BigIntegerField, CharField, DateTimeField, Model, TextField


def up(migrator, db):
    migrator.migrate(
        # auto: an open PR of an installed repository; manual: `prmonitor start`; stopped:
        # `prmonitor stop` (its rows stay, the poller no longer spends calls on it).
        migrator.add_column("prs", "tracking", CharField(default="auto")),
        migrator.add_column("prs", "reconciled_at", DateTimeField(null=True)),
        # Set once the run's jobs were read from GitHub after everything had completed.
        migrator.add_column("workflows", "jobs_synced_at", DateTimeField(null=True)),
    )
    db.create_tables(_new_tables(db))
    # PRs closed before the poller existed had their final pass long ago: without this, the
    # first cycle would spend a call on each of them. Naive UTC as text, the one stored time
    # format (models.utcnow); CURRENT_TIMESTAMP would be the session's local time on Postgres.
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)
    db.execute_sql(
        f"UPDATE prs SET reconciled_at = {db.param} WHERE state IS NULL OR state <> 'open'",
        [now.isoformat(" ")],
    )


def _new_tables(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class HttpCache(Base):
        url = CharField(max_length=2048, unique=True)
        etag = CharField()
        body = TextField()
        saved_at = DateTimeField()

        class Meta:
            table_name = "http_cache"

    class Lease(Base):
        name = CharField(unique=True)
        holder = CharField()
        expires_at = DateTimeField()
        acquired_at = DateTimeField()
        status = TextField(null=True)

        class Meta:
            table_name = "leases"

    class Redelivery(Base):
        hook_delivery_id = BigIntegerField(unique=True)
        guid = CharField()
        event = CharField(null=True)
        requested_at = DateTimeField()

        class Meta:
            table_name = "redeliveries"

    return [HttpCache, Lease, Redelivery]
