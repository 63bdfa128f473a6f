"""An index for the last day's deliveries by outcome (GET /api/status counts them, and the
worker prunes deliveries older than DELIVERY_RETENTION_DAYS by the same column): without it
both read the whole table, which grows by every delivery GitHub sends."""


def up(migrator, db):
    migrator.migrate(migrator.add_index("deliveries", ("received_at", "outcome"), False))
