"""Fixtures of the diagnosis tests: the fake GitHub with one installed repository, and the
worker's diagnosis loop reading from it."""

import threading

import pytest

from prmonitor.failures.diagnose import Diagnoser
from prmonitor.poll.diagnoser import DiagnosisLoop

from ..fakes import FakeGitHub, app_client

REPO = "octo-org/widgets"


@pytest.fixture
def fake():
    fake = FakeGitHub()
    fake.add_installation(7)
    fake.add_repo(REPO, installation_id=7)
    return fake


@pytest.fixture
def loop(app, fake, github_url):
    github = app_client(fake, github_url, sleep=lambda seconds: None)
    yield DiagnosisLoop(Diagnoser(github), threading.Event(), holder="worker-1")
    github.close()
