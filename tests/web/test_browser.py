"""The dashboard in a real browser: headless Chromium (Debian's) driven over WebDriver against
`prmonitor serve` on a loopback port, its database filled by signed deliveries. Screenshots at
1280 and 390 px wide go to tests/web/screenshots/ (not committed)."""

import os
from pathlib import Path

import pytest

from .. import webdriver
from ..events import job_event, pr_event, run_event
from ..fakes import serve_fake
from ..fakes.github import FakeGitHub
from ..fakes.oauth import CLIENT_ID, CLIENT_SECRET
from ..helpers import SECRET, signed_post_raw
from ..servers import running_server

SCREENSHOTS = Path(__file__).parent / "screenshots"
TOKEN = "browser-test-token"
RUNNING_SHA = "c" * 40

pytestmark = pytest.mark.skipif(
    not (webdriver.CHROMIUM and webdriver.CHROMEDRIVER) and os.environ.get("CI") != "true",
    reason="Debian's chromium and chromium-driver are not installed",
)


def fill(base, repo=None, ids=(9100000001, 29000000001)):
    """PR 17 failing (a failed job with its steps), PR 20 still running."""
    run_id, job_id = ids
    for event, payload in (
        ("pull_request", pr_event("opened", repo=repo)),
        ("workflow_run", run_event("completed", repo=repo, id=run_id)),
        ("workflow_job", job_event("completed", repo=repo, id=job_id, run_id=run_id)),
    ):
        assert signed_post_raw(base, event, payload) == 200
    if repo is None:
        running = pr_event("opened", title="Still going")
        running["number"] = running["pull_request"]["number"] = 20
        running["pull_request"]["head"]["sha"] = RUNNING_SHA
        assert signed_post_raw(base, "pull_request", running) == 200
        assert signed_post_raw(base, "workflow_run", _running_run()) == 200
        assert signed_post_raw(base, "workflow_job", _running_job("in_progress")) == 200


def _running_run(status="in_progress"):
    payload = run_event(
        status,
        id=9100000020,
        head_sha=RUNNING_SHA,
        status=status,
        conclusion="success" if status == "completed" else None,
    )
    for hint in payload["workflow_run"]["pull_requests"]:
        hint["number"] = 20
        hint["head"]["sha"] = RUNNING_SHA
    return payload


def _running_job(status):
    fields = {"conclusion": "success"} if status == "completed" else {}
    return job_event(
        status, id=29000000020, run_id=9100000020, head_sha=RUNNING_SHA, name="build", **fields
    )


def no_page_scroll(browser):
    return browser.run("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_the_dashboard_in_a_browser(tmp_path):
    env = {"WEBHOOK_SECRET": SECRET, "API_TOKEN": TOKEN}
    with running_server(tmp_path, **env) as (base, _), webdriver.browser(tmp_path / "c") as b:
        fill(base)
        b.open(f"{base}/")
        assert b.url == f"{base}/login?next=/"  # signed out: to the sign-in form
        b.type("input[name=token]", "not-the-token")
        b.click("form button[type=submit]")
        b.wait_until(lambda: "That is not the API_TOKEN." in b.text(), what="the refusal")
        b.type("input[name=token]", TOKEN)
        b.click("form button[type=submit]")
        b.wait_until(lambda: b.url == f"{base}/", what="signing in")
        assert b.count("#prs tbody tr") == 2
        b.screenshot(SCREENSHOTS / "list-1280.png")

        b.choose("select[name=status]", "failing")
        b.click("form.filters button[type=submit]")
        b.wait_until(lambda: "status=failing" in b.url, what="the filter")
        assert b.count("#prs tbody tr") == 1
        b.click("#prs a[href='/prs/acme/widgets/17']")
        b.wait_until(lambda: b.url == f"{base}/prs/acme/widgets/17", what="the PR page")
        assert "failed step: Run tests, Upload coverage" in b.text("#failed-jobs")
        assert b.count("svg.timeline rect.bar") == 1
        assert "✗ test-unit" in b.text("svg.timeline")
        b.screenshot(SCREENSHOTS / "pr-1280.png")
        b.size(390, 844)
        assert no_page_scroll(b), "the PR page scrolls sideways at 390 px"
        b.screenshot(SCREENSHOTS / "pr-390.png")
        b.open(f"{base}/")
        assert no_page_scroll(b), "the list scrolls sideways at 390 px"
        b.screenshot(SCREENSHOTS / "list-390.png")
        b.prefer_dark()
        background = "return getComputedStyle(document.body).backgroundColor"
        assert b.run(background) == "rgb(13, 17, 23)"  # the dark theme's
        b.screenshot(SCREENSHOTS / "list-390-dark.png")
        b.prefer_dark(False)
        assert b.run(background) == "rgb(255, 255, 255)"
        b.size(1280, 900)

        b.click("header form button[type=submit]")  # Sign out
        b.wait_until(lambda: b.url == f"{base}/login", what="signing out")
        b.open(f"{base}/prs/acme/widgets/17")
        assert b.url.startswith(f"{base}/login?next=")


def test_a_running_job_turns_green_without_a_reload(tmp_path):
    with running_server(tmp_path, WEBHOOK_SECRET=SECRET) as (base, _):
        fill(base)
        with webdriver.browser(tmp_path / "c") as b:
            b.open(f"{base}/prs/acme/widgets/20")
            assert "● in progress" in b.text("#live")
            b.run("window.loadedOnce = 'yes'")
            assert signed_post_raw(base, "workflow_job", _running_job("completed")) == 200
            assert signed_post_raw(base, "workflow_run", _running_run("completed")) == 200
            b.wait_until(
                lambda: b.run("return document.getElementById('live').dataset.live") == "0",
                what="the page's update",
            )
            assert "✓ success" in b.text("#live") and "● in progress" not in b.text("#live")
            assert b.run("return window.loadedOnce") == "yes"  # the same page: no reload


@pytest.fixture
def github():
    fake = FakeGitHub()
    fake.add_installation(7, login="acme")
    fake.add_repo("acme/widgets", installation_id=7)
    fake.add_installation(8, login="other")
    fake.add_repo("other/place", installation_id=8)
    fake.add_person("alice", ["acme/widgets"])
    fake.signed_in_as = "alice"
    with serve_fake(fake) as url:
        yield url


def test_sign_in_with_github_shows_only_the_allowed_repositories(tmp_path, github):
    env = {
        "WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": github,
        "GITHUB_CLIENT_ID": CLIENT_ID,
        "GITHUB_CLIENT_SECRET": CLIENT_SECRET,
    }
    with running_server(tmp_path, **env) as (base, _), webdriver.browser(tmp_path / "c") as b:
        fill(base, "acme/widgets")
        fill(base, "other/place", ids=(9200000001, 29200000001))
        b.open(f"{base}/")
        b.click("#github-sign-in")  # to the fake's authorize page, which says yes at once
        b.wait_until(lambda: b.url == f"{base}/", what="signing in with GitHub")
        assert "alice" in b.text("header")
        assert b.count("#prs a[href='/prs/acme/widgets/17']") == 1
        assert "other/place" not in b.text("#prs")
        b.open(f"{base}/prs/other/place/17")
        assert "Not found" in b.text("h1")
        b.screenshot(SCREENSHOTS / "github-sign-in-1280.png")
