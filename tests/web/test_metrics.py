"""GET /metrics: Prometheus' text format, behind API_TOKEN or METRICS_TOKEN, and under
gunicorn the sum over every worker (prometheus-client's multiprocess mode)."""

import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from prmonitor import create_app
from prmonitor.storage import db

from ..events import job_event, pr_event, run_event
from ..helpers import SECRET, make_config, signed_post_raw
from ..servers import running_server


def sample(text, name, **labels):
    """The value of one sample of the exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        metric, _, rest = key.partition("{")
        found = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and found == wanted:
            return float(value)
    return 0.0


def test_metrics_count_deliveries_job_times_and_refusals(client, deliver):
    before = client.get("/metrics").get_data(as_text=True)
    processed = sample(
        before, "prmonitor_deliveries_total", event="workflow_job", outcome="processed"
    )
    deliver("pull_request", pr_event("opened"))
    deliver("workflow_run", run_event("completed"))
    deliver("workflow_job", job_event("completed"))
    client.post("/api/github/webhooks", data=b"{}", headers={"X-GitHub-Event": "x" * 50})
    page = client.get("/metrics")
    assert page.status_code == 200 and page.content_type.startswith("text/plain")
    text = page.get_data(as_text=True)
    after = sample(text, "prmonitor_deliveries_total", event="workflow_job", outcome="processed")
    assert after == processed + 1
    # An unsigned request's event name is not trusted as a label.
    assert sample(text, "prmonitor_deliveries_total", event="other", outcome="refused") >= 1
    assert "x" * 50 not in text
    assert 'prmonitor_job_duration_seconds_count{conclusion="failure",repo="acme/widgets"' in text
    assert "prmonitor_job_queue_seconds_bucket" in text
    assert "prmonitor_delivery_seconds_bucket" in text
    for name in ("github_requests", "poll_cycle_seconds", "diagnoses", "notifications", "analyses"):
        assert f"# HELP prmonitor_{name}" in text, name
    # Bounded labels: no job id, run id or SHA becomes a label.
    assert "29000000001" not in text and "9100000001" not in text
    assert not re.search(r"[0-9a-f]{40}", text)


@pytest.mark.parametrize("setting", ["api_token", "metrics_token"])
def test_metrics_need_a_token_when_one_is_set(database_url, setting):
    app = create_app(make_config(database_url, **{setting: "scrape-me"}))
    db.migrate()
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert right.status_code == 200 and "prmonitor_deliveries_total" in right.get_data(as_text=True)
    db.database.obj.close_all()


def test_a_metrics_token_does_not_open_the_api(database_url):
    app = create_app(make_config(database_url, api_token="people", metrics_token="scraper"))
    db.migrate()
    client = app.test_client()
    assert client.get("/api/prs", headers={"Authorization": "Bearer scraper"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scraper"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer people"}).status_code == 200
    db.database.obj.close_all()


def test_every_scrape_sums_both_workers(tmp_path):
    values = tmp_path / "metrics"
    values.mkdir()
    env = {
        "WEBHOOK_SECRET": SECRET,
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(values),
    }
    with running_server(tmp_path, **env) as (base, _):
        assert signed_post_raw(base, "pull_request", pr_event("opened")) == 200

        def post(number):
            payload = job_event("completed", id=29000000000 + number)
            return signed_post_raw(base, "workflow_job", payload)

        # Sent 8 at a time: a worker takes a connection only while it has a free app slot, so
        # the others go to the other worker (one at a time, either could take them all).
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while not sent or (sent < 300 and len(writers(values)) < 2):
                assert list(pool.map(post, range(sent + 1, sent + 31))) == [200] * 30
                sent += 30
        assert len(writers(values)) >= 2, writers(values)  # both workers took deliveries
        for _ in range(6):  # each scrape lands on either worker
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
                text = answer.read().decode()
            total = sample(
                text, "prmonitor_deliveries_total", event="workflow_job", outcome="processed"
            )
            assert total == sent


def writers(values):
    """The processes that wrote counters (prometheus-client's files end in the pid)."""
    return {path.stem.rpartition("_")[2] for path in Path(values).glob("counter_*.db")}


def test_workflow_names_a_pull_request_brings_are_bounded(monkeypatch):
    from prmonitor import metrics

    monkeypatch.setattr(metrics, "_seen", {})
    names = [
        metrics._bounded("acme/widgets", f"wf {n}")[1] for n in range(metrics.MAX_WORKFLOWS + 5)
    ]
    assert names[: metrics.MAX_WORKFLOWS] == [f"wf {n}" for n in range(metrics.MAX_WORKFLOWS)]
    assert set(names[metrics.MAX_WORKFLOWS :]) == {"other"}
    assert metrics._bounded("acme/widgets", "wf 0") == ("acme/widgets", "wf 0")  # still its own
    for n in range(metrics.MAX_REPOS):
        metrics._bounded(f"o/r{n}", "ci")
    assert metrics._bounded("late/comer", "ci") == ("other", "other")
