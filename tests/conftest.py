"""Shared fixtures: an app on a fresh, migrated database (SQLite, and Postgres when
TEST_DATABASE_URL is set), its test client, signed deliveries to it, and the loopback fake of
GitHub with prmonitor's client for it."""

import threading

import pytest

from prmonitor import create_app
from prmonitor.failures.diagnose import Diagnoser
from prmonitor.poll.diagnoser import DiagnosisLoop
from prmonitor.storage import db

from .events import job_event, pr_event, run_event
from .fakes import app_client, installed, serve_fake
from .helpers import backends, make_config, postgres_schema, signed_post


@pytest.fixture(params=backends())
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/pr_tracking.db"
        return
    with postgres_schema() as url:
        yield url


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


@pytest.fixture
def fake():
    """The fake GitHub: the App installed (installation 7) on octo-org/widgets. A folder's or a
    module's own `fake` fixture gives its tests another world."""
    return installed()


@pytest.fixture
def github_url(fake):
    """`fake` served on a free loopback port: its base URL."""
    with serve_fake(fake) as url:
        yield url


@pytest.fixture
def github_options():
    """Options of the `github` client (an ETag store, sleep, ...); a module overrides it."""
    return {}


@pytest.fixture
def github(fake, github_url, github_options):
    """prmonitor's GitHub client as the fake's App, closed afterwards."""
    github = app_client(fake, github_url, **github_options)
    yield github
    github.close()


@pytest.fixture
def analysis_limits():
    """The Config new failures get AI analyses under; None: analysis off (a folder overrides)."""
    return None


@pytest.fixture
def diagnosis(app, fake, github_url, analysis_limits):
    """The worker's diagnosis loop, with a GitHub client of its own for the fake."""
    github = app_client(fake, github_url, sleep=lambda seconds: None)
    diagnoser = Diagnoser(github, analysis_limits=analysis_limits)
    yield DiagnosisLoop(diagnoser, threading.Event(), holder="diagnosis")
    github.close()


@pytest.fixture
def filled(deliver, database_url):
    """PR #17 with its failed CI run and job, delivered; the database's URL."""
    deliver("pull_request", pr_event("opened"))
    deliver("workflow_run", run_event("completed"))
    deliver("workflow_job", job_event("completed"))
    return database_url
