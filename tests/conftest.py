"""Shared fixtures: an app on a fresh, migrated database (SQLite, and Postgres when
TEST_DATABASE_URL is set), its test client, and a helper that posts signed deliveries."""

import json
import os
import urllib.request
import uuid
from urllib.parse import quote, urlsplit

import psycopg2
import pytest

from prmonitor import create_app
from prmonitor.config import Config
from prmonitor.storage import db
from prmonitor.webhooks.receiver import sign

SECRET = "it's a secret to everybody"


def backends():
    names = ["sqlite"]
    if os.environ.get("TEST_DATABASE_URL"):
        names.append("postgres")
    return names


@pytest.fixture(params=backends())
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/pr_tracking.db"
        return
    with postgres_schema() as url:
        yield url


class postgres_schema:
    """A schema of its own in the TEST_DATABASE_URL database, dropped afterwards."""

    def __init__(self):
        self.base = os.environ["TEST_DATABASE_URL"]
        self.schema = f"t_{uuid.uuid4().hex[:12]}"

    def _admin(self, sql):
        conn = psycopg2.connect(self.base)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()

    def __enter__(self):
        self._admin(f"CREATE SCHEMA {self.schema}")
        sep = "&" if urlsplit(self.base).query else "?"
        return f"{self.base}{sep}options={quote(f'-csearch_path={self.schema}')}"

    def __exit__(self, *exc):
        db.database.obj.close_all()
        self._admin(f"DROP SCHEMA {self.schema} CASCADE")


def make_config(database_url, **overrides):
    return Config(**{"database_url": database_url, "webhook_secrets": (SECRET,), **overrides})


@pytest.fixture
def app(database_url):
    app = create_app(make_config(database_url))
    database = db.database.obj
    db.migrate(database)
    yield app
    if not database.is_closed():
        database.close()
    database.close_all()  # the pool's idle connections


@pytest.fixture
def client(app):
    return app.test_client()


def signed_post(client, event, payload, delivery_id=None, secret=SECRET, headers=None):
    """Post a delivery the way GitHub does, signed; returns the response."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
        "Content-Type": "application/json",
        **(headers or {}),
    }
    return client.post("/api/github/webhooks", data=body, headers=sent)


def signed_post_raw(base_url, event, payload):
    """signed_post() over real HTTP to a running server; returns the status code."""
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{base_url}/api/github/webhooks",
        data=body,
        method="POST",
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(body, SECRET),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


@pytest.fixture
def deliver(client):
    """signed_post() to the test app."""

    def post(event, payload, **options):
        return signed_post(client, event, payload, **options)

    return post


@pytest.fixture
def database(app):
    """The bound database, connected, for tests that read rows directly."""
    database = db.database.obj
    database.connect(reuse_if_open=True)
    return database
