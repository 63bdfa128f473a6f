"""Fixtures of the notification tests (the fake GitHub and the diagnosis loop are the shared
`fake` and `diagnosis`): a notifier with a client of its own for the fake, as the worker runs
it."""

import pytest

from prmonitor.notify.channels import Check, Comment, Log
from prmonitor.notify.pace import Pace
from prmonitor.notify.sender import Notifier

from ..fakes import app_client


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
