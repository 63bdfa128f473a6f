"""Indexes for the PR list (GET /api/prs, the dashboard), newest first: the open PRs or one
state, the rest, and one repository's. Without them every page sorts the whole prs table.

Their keyset orders by updated_at, so no PR keeps a NULL there (a PR created from a run's hint
had one): an unknown time is the epoch, as the payload parsers write it, in the one stored
format (naive UTC text on SQLite)."""


def up(migrator, db):
    db.execute_sql(
        f"UPDATE prs SET updated_at = {db.param} WHERE updated_at IS NULL",
        ["1970-01-01 00:00:00"],
    )
    migrator.migrate(
        migrator.add_index("prs", ("state", "updated_at", "id"), False),
        migrator.add_index("prs", ("updated_at", "id"), False),
        migrator.add_index("prs", ("repo_full_name", "updated_at", "id"), False),
    )
