"""Token mode (GITHUB_TOKEN, no App): the poller follows the PRs it knows of, those started by
hand and those a repository webhook delivered, and discovers no others."""

import pytest

from prmonitor.github import GitHub
from prmonitor.poll import EtagStore, Poller
from prmonitor.storage.models import Pr, Workflow

from ..fakes import FakeGitHub
from .world import deliver_events

REPO = "octo-org/widgets"
TOKEN = "ghp_laptop"


@pytest.fixture
def fake():
    """One repository with a plain repository webhook (no App installation), two open PRs."""
    fake = FakeGitHub()
    fake.add_personal_token(TOKEN)
    fake.add_repo(REPO)
    return fake


def test_a_pr_that_arrived_by_webhook_is_polled_and_no_other_is(app, client, fake, github_url):
    delivered = fake.open_pr(REPO, title="delivered")
    run = fake.add_run(REPO, delivered["head"]["sha"])
    deliver_events(client, [e for e in fake.events if e.name == "pull_request"])
    fake.open_pr(REPO, title="never delivered")  # its event was lost, or the hook came later
    fake.finish_run(run["id"], {"test": "failure"})  # and the run's events were lost too
    github = GitHub(github_url, token=TOKEN, etags=EtagStore(), backoff=0.01)
    report = Poller(github, interval=1, lease_ttl=30).run_once()
    github.close()
    assert report["errors"] == 0 and report["repos"] == 1
    assert [(pr.title, pr.tracking) for pr in Pr.select()] == [("delivered", "auto")]
    stored = Workflow.get(Workflow.run_id == run["id"])
    assert (stored.status, stored.conclusion) == ("completed", "failure")
