"""What the test modules share: the webhook secret and a config, GitHub's signed delivery
headers and posting with them, a Postgres schema per test, and the prmonitor command run as a
process."""

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from urllib.parse import quote, urlsplit

import psycopg2

from prmonitor.config import Config
from prmonitor.storage import db
from prmonitor.webhooks.receiver import sign

SECRET = "it's a secret to everybody"
WEBHOOKS = "/api/github/webhooks"


def backends():
    """The databases the tests run on: SQLite, and Postgres when TEST_DATABASE_URL is set."""
    names = ["sqlite"]
    if os.environ.get("TEST_DATABASE_URL"):
        names.append("postgres")
    return names


class postgres_schema:
    """A schema of its own in the TEST_DATABASE_URL database, dropped afterwards."""

    def __init__(self):
        self.base = os.environ["TEST_DATABASE_URL"]
        self.schema = f"t_{uuid.uuid4().hex[:12]}"

    def __enter__(self):
        postgres_admin(f"CREATE SCHEMA {self.schema}")
        sep = "&" if urlsplit(self.base).query else "?"
        return f"{self.base}{sep}options={quote(f'-csearch_path={self.schema}')}"

    def __exit__(self, *exc):
        db.database.obj.close_all()
        postgres_admin(f"DROP SCHEMA {self.schema} CASCADE")


def postgres_admin(sql):
    """Run one statement on TEST_DATABASE_URL outside a transaction (CREATE, DROP)."""
    conn = psycopg2.connect(os.environ["TEST_DATABASE_URL"])
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def make_config(database_url, **overrides):
    return Config(**{"database_url": database_url, "webhook_secrets": (SECRET,), **overrides})


def delivery_headers(event, body, delivery_id=None, secret=SECRET, content_type="application/json"):
    """The headers GitHub sends with a delivery of `body` (bytes): the event, the delivery's
    GUID (a new one unless given), the body's signature with `secret`, and its content type."""
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
        "Content-Type": content_type,
    }


def signed_post(client, event, payload, delivery_id=None, secret=SECRET, headers=None):
    """Post a delivery the way GitHub does, signed; returns the response."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {**delivery_headers(event, body, delivery_id, secret), **(headers or {})}
    return client.post(WEBHOOKS, data=body, headers=sent)


def signed_post_raw(base_url, event, payload):
    """signed_post() over real HTTP to a running server; returns the status code."""
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{base_url}{WEBHOOKS}", data=body, method="POST", headers=delivery_headers(event, body)
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def run_cli(*args, cwd, env=None):
    """`python -m prmonitor.cli ARGS` in `cwd`, with `env` over this environment."""
    return subprocess.run(
        [sys.executable, "-m", "prmonitor.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
