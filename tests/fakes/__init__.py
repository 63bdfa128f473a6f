"""A loopback fake of GitHub's REST API and webhooks: the truth prmonitor's tests check against.

What GitHub knows: world (clock, installations, repositories, events, deliveries), pulls, runs,
jobs. How it answers: answers (the WSGI app and its route table), auth, limits, faults, http,
app_routes, repo_routes. github composes them into FakeGitHub; server serves it on loopback.
"""

from .auth import new_private_key
from .github import FakeGitHub, installed
from .jobs import job_log
from .limits import Call
from .server import app_client, serve_fake
from .world import WebhookEvent

__all__ = [
    "Call",
    "FakeGitHub",
    "WebhookEvent",
    "app_client",
    "installed",
    "job_log",
    "new_private_key",
    "serve_fake",
]
