"""Fixtures of the poll tests: the fake GitHub holds world.build_world's three repositories
(a module may override `fake`), and a poller for it on the test app's database."""

import pytest

from ..fakes import FakeGitHub
from .world import build_world, make_poller


@pytest.fixture
def fake():
    """The fake GitHub with world.build_world's installation, repositories, PRs and runs."""
    fake = FakeGitHub()
    build_world(fake)
    return fake


@pytest.fixture
def poller(app, fake, github_url):
    poller = make_poller(fake, github_url)
    yield poller
    poller.github.close()
