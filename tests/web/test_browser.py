"""The dashboard in a real browser: headless Chromium renders the pages served by gunicorn."""

import shutil
import subprocess

import pytest

from ..events import job_event, pr_event, run_event
from ..helpers import SECRET, signed_post_raw
from ..servers import running_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed")


@pytest.fixture
def served(tmp_path):
    """prmonitor serve on a free port with an empty SQLite database; yields its base URL."""
    with running_server(tmp_path, WEBHOOK_SECRET=SECRET) as (base, _):
        yield base


def render(url, tmp_path):
    """The DOM Chromium builds for the page (after parsing, as a person's browser would)."""
    profile = tmp_path / f"chromium-{abs(hash(url))}"
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_dashboard_lists_the_pr_and_its_page_shows_the_failure(served, tmp_path):
    for event, payload in (
        ("pull_request", pr_event("opened")),
        ("workflow_run", run_event("completed")),
        ("workflow_job", job_event("completed")),
    ):
        assert signed_post_raw(served, event, payload) == 200
    index = render(f"{served}/", tmp_path)
    assert 'href="/prs/acme/widgets/17"' in index
    assert "Fix the parser" in index and "✗ failing" in index
    page = render(f"{served}/prs/acme/widgets/17", tmp_path)
    assert "acme/widgets #17" in page
    assert 'id="failed-jobs"' in page
    assert "Run tests, Upload coverage" in page
    assert "https://github.com/acme/widgets/actions/runs/9100000001/job/29000000001" in page
