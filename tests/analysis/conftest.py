"""Fixtures of the AI analysis tests: the Messages API stub on a loopback port, driven by the
real anthropic SDK; the worker's diagnosis loop (enqueuing analyses), its analysis queue and a
notifier, each with its own client for the fake GitHub."""

import dataclasses

import anthropic
import pytest

from prmonitor.config import Config
from prmonitor.failures.analysis import Analyzer
from prmonitor.notify.channels import Comment
from prmonitor.notify.pace import Pace
from prmonitor.notify.sender import Notifier
from prmonitor.poll.analyst import AnalysisQueue

from ..fakes import app_client
from ..fakes.claude import KEY, ClaudeStub, serve_claude


@pytest.fixture
def stub():
    stub = ClaudeStub()
    url, stop = serve_claude(stub)
    stub.url = url
    yield stub
    stop()


@pytest.fixture
def limits():
    """The analysis settings (a module may override some)."""
    return {}


@pytest.fixture
def config(stub, limits):
    base = Config(anthropic_api_key=KEY, anthropic_base_url=stub.url, anthropic_model="claude-test")
    return dataclasses.replace(base, **limits)


@pytest.fixture
def claude(stub):
    """The real SDK against the stub: short timeout, no retries of its own (the queue's)."""
    client = anthropic.Anthropic(api_key=KEY, base_url=stub.url, timeout=2.0, max_retries=0)
    yield client
    client.close()


def make_queue(fake, github_url, claude, config, holder):
    github = app_client(fake, github_url, sleep=lambda seconds: None)
    return AnalysisQueue(Analyzer(claude, github, config), holder=holder), github


@pytest.fixture
def queue(app, fake, github_url, claude, config):
    queue, github = make_queue(fake, github_url, claude, config, "analyst-1")
    yield queue
    github.close()


@pytest.fixture
def analysis_limits(config):
    """The shared `diagnosis` loop enqueues analyses under this configuration."""
    return config


@pytest.fixture
def notifier(app, fake, github_url):
    github = app_client(fake, github_url, attempts=1, sleep=lambda seconds: None)
    yield Notifier([Comment(github, Pace(spacing=0))], holder="notifier")
    github.close()
