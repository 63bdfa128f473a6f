"""Fixtures of the notification tests (the fake GitHub is the shared one: the App installed on
octo-org/widgets): the worker's diagnosis loop and a notifier, each with its own client for
the fake, as the worker runs them."""

import threading

import pytest

from prmonitor.failures.diagnose import Diagnoser
from prmonitor.notify.channels import Check, Comment, Log
from prmonitor.notify.pace import Pace
from prmonitor.notify.sender import Notifier
from prmonitor.poll.diagnoser import DiagnosisLoop

from ..fakes import app_client


@pytest.fixture
def diagnosis(app, fake, github_url):
    github = app_client(fake, github_url, sleep=lambda seconds: None)
    yield DiagnosisLoop(Diagnoser(github), threading.Event(), holder="diagnosis")
    github.close()


@pytest.fixture
def notify_github(app, fake, github_url):
    """The notifier's client: one try per call, as the worker's (poll/notifier.py)."""
    github = app_client(fake, github_url, attempts=1, sleep=lambda seconds: None)
    yield github
    github.close()


@pytest.fixture
def pace():
    return Pace(spacing=0)


@pytest.fixture
def notifier(notify_github, pace):
    channels = [Comment(notify_github, pace), Check(notify_github, pace), Log()]
    return Notifier(channels, debounce=30, holder="notifier-1")
