"""The verdict on the dashboard's PR page, with its two feedback buttons: a form post with the
page's token stores the feedback; one without it (another site's) is refused."""

import re
import sqlite3
from types import SimpleNamespace

import pytest

from prmonitor.storage import analyses, db

from .. import webdriver
from ..events import job_event, pr_event, run_event
from ..helpers import SECRET, signed_post_raw
from ..servers import running_server
from .world import analyse, failing_pr, rows, sync


def test_the_buttons_store_feedback(client, fake, stub, diagnosis, queue):
    pr, _ = failing_pr(fake)
    sync(client, fake, diagnosis)
    analyse(queue)
    page = client.get(f"/prs/octo-org/widgets/{pr['number']}")
    html = page.get_data(as_text=True)
    assert "<strong>related</strong> (80%, claude-test)" in html
    [row] = rows()
    action = f'action="/analyses/{row.id}/feedback"'
    assert action in html and "👍 right" in html and "👎 wrong" in html
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)

    back = f"/prs/octo-org/widgets/{pr['number']}"
    form = {"csrf": token, "correct": "false", "back": back}
    answer = client.post(f"/analyses/{row.id}/feedback", data=form)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(back)
    with db.database.connection_context():
        [stored] = analyses.feedback_for(row.id)
    assert (stored["correct"], stored["who"], stored["source"]) == (False, "dashboard", "user")

    client.delete_cookie("prmonitor_csrf")
    refused = client.post(f"/analyses/{row.id}/feedback", data=form)
    assert refused.status_code == 400
    with db.database.connection_context():
        assert len(analyses.feedback_for(row.id)) == 1


@pytest.mark.skipif(
    not (webdriver.CHROMIUM and webdriver.CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed",
)
def test_the_wrong_button_in_a_real_browser(tmp_path):
    """prmonitor serve, a failed job with a verdict, and Chromium clicking 👎 on its page."""
    with running_server(tmp_path, WEBHOOK_SECRET=SECRET) as (base, _):
        for event, payload in (
            ("pull_request", pr_event("opened")),
            ("workflow_run", run_event("completed")),
            ("workflow_job", job_event("completed")),
        ):
            assert signed_post_raw(base, event, payload) == 200
        database = tmp_path / "data" / "pr_tracking.db"
        analysis_id = _verdict_on_the_failed_job(database)
        page = f"{base}/prs/acme/widgets/17"
        with webdriver.browser(tmp_path / "chromium") as browser:
            browser.open(page)
            assert "<strong>related</strong>" in browser.source
            browser.click("form.feedback button[value='false']")
            assert browser.url == page and "👎 wrong" in browser.source
        with sqlite3.connect(database) as connection:
            rows = connection.execute(
                "SELECT analysis_id, correct, who, source FROM analysis_feedback"
            ).fetchall()
    assert rows == [(analysis_id, 0, "dashboard", "user")]


def _verdict_on_the_failed_job(database):
    """What the worker stores once Claude answered, written straight into the server's file."""
    with sqlite3.connect(database) as connection:
        job = connection.execute(
            "SELECT j.job_id, j.pr_id, j.head_sha, j.job_name, j.failure_signature, "
            "j.error_message, w.repo_full_name FROM workflow_jobs j "
            "JOIN workflows w ON w.id = j.workflow_id WHERE j.conclusion = 'failure'"
        ).fetchone()
        row = SimpleNamespace(
            job_id=job[0],
            head_sha=job[2],
            job_name=job[3],
            failure_signature=job[4],
            error_message=job[5],
            workflow=SimpleNamespace(repo_full_name=job[6]),
        )
        now = "2026-11-20 10:10:00"
        cursor = connection.execute(
            "INSERT INTO analyses (key, job_id, pr_id, head_sha, job_name, state, attempts, "
            "due_at, model, verdict, confidence, explanation, evidence, grounded, created_at, "
            "finished_at) VALUES (?, ?, ?, ?, ?, 'done', 1, ?, 'claude-test', 'related', 0.8, "
            "'The change broke it.', '[]', 1, ?, ?)",
            [analyses.key_of(row), job[0], job[1], job[2], job[3], now, now, now],
        )
        return cursor.lastrowid
