"""The dashboard: people signed in with GitHub, one row per session, with the repositories
their account can see through the App's installations (refreshed every few minutes) and
their user token, encrypted, to refresh them; an index for a repository's latest runs (its
trends page) and one for its open PRs (the PR list of one repository)."""

from peewee import BigIntegerField, CharField, DateTimeField, Model, TextField


def up(migrator, db):
    db.create_tables([_web_sessions(db)])
    migrator.migrate(
        migrator.add_index("workflows", ("repo_full_name", "created_at"), False),
        # One repository's open PRs, newest first, without reading its closed ones.
        migrator.add_index("prs", ("repo_full_name", "state", "updated_at", "id"), False),
    )


def _web_sessions(db):
    class WebSession(Model):
        key = CharField(max_length=64, unique=True)  # SHA-256 of the cookie's session secret
        github_id = BigIntegerField()
        login = CharField()
        token = TextField()  # the user's token, encrypted (web.github_login)
        refresh_token = TextField(null=True)  # encrypted; None when the App's tokens never expire
        token_expires_at = DateTimeField(null=True)
        repos = TextField()  # JSON list of full names
        fetched_at = DateTimeField()
        created_at = DateTimeField()
        expires_at = DateTimeField()

        class Meta:
            database = db
            table_name = "web_sessions"
            indexes = ((("expires_at",), False),)

    return WebSession
