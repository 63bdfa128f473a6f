"""Links on the dashboard lead only to the configured GitHub: a payload's html_url is the
sender's text."""

import html
import re

import pytest

from ..events import job_event, pr_event, run_event


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "https://evil.example/acme/widgets/pull/17",
        "//evil.example/x",
    ],
)
def test_a_url_off_github_is_shown_but_not_linked(client, deliver, url):
    deliver("pull_request", pr_event("opened", html_url=url))
    deliver("workflow_run", run_event("completed", html_url=url))
    deliver("workflow_job", job_event("completed", html_url=url))
    links = hrefs(client.get("/prs/acme/widgets/17").get_data(as_text=True))
    assert links  # the page still links home
    assert all(link.startswith("/") and not link.startswith("//") for link in links), links


def test_github_urls_are_linked(client, deliver):
    deliver("pull_request", pr_event("opened"))
    deliver("workflow_run", run_event("completed"))
    deliver("workflow_job", job_event("completed"))
    links = hrefs(client.get("/prs/acme/widgets/17").get_data(as_text=True))
    assert "https://github.com/acme/widgets/pull/17" in links
    assert any(link.startswith("https://github.com/acme/widgets/actions/runs/") for link in links)


def hrefs(page):
    return [html.unescape(link) for link in re.findall(r'href="([^"]*)"', page)]
