"""What a cycle reports when GitHub cannot be reached, and the verdict /api/status gives of
the poller's health (ok, degraded with its reason, stale, off)."""

import datetime

from prmonitor import create_app
from prmonitor.github import GitHub
from prmonitor.poll import EtagStore, Poller
from prmonitor.storage import db, lease
from prmonitor.web.api import poller_health

from ..fakes import new_private_key
from ..helpers import make_config
from ..servers import free_port
from .world import make_poller

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def cycle(minutes_ago, **report):
    finished = NOW - datetime.timedelta(minutes=minutes_ago)
    return {"last_cycle": {"errors": 0, **report, "finished_at": f"{finished:%Y-%m-%dT%H:%M:%SZ}"}}


def test_an_unreachable_github_is_an_error_of_the_cycle_not_a_quiet_one(app):
    unreachable = f"http://127.0.0.1:{free_port()}"
    github = GitHub(
        unreachable,
        app_id="1",
        private_key=new_private_key(),
        etags=EtagStore(),
        backoff=0.01,
        timeout=(1, 1),
    )
    report = Poller(github, interval=60).run_once()
    github.close()
    assert report["calls"] == 0 and report["retries"] > 0
    # The installations could not be refreshed and the recovery was skipped: two errors.
    assert report["errors"] == 2
    assert report["problem"].startswith("missed-delivery recovery skipped:")


def test_status_says_degraded_with_the_reason(app, client, fake, github_url):
    poller = make_poller(fake, github_url)
    fake.inject(r"/app/installations$", status=502, times=50)
    poller.run_once()
    poller.github.close()
    config = make_config(app.config["PRMONITOR"].database_url, app_id="1", private_key="k")
    app.config["PRMONITOR"] = config
    health = client.get("/api/status").json["health"]
    assert health["status"] == "degraded"
    assert health["reason"].startswith("installations not refreshed:")


def test_status_is_ok_after_a_clean_cycle(app, client, fake, github_url):
    poller = make_poller(fake, github_url)
    assert poller.run_once()["errors"] == 0
    poller.github.close()
    app.config["PRMONITOR"] = make_config(
        app.config["PRMONITOR"].database_url, app_id="1", private_key="k"
    )
    assert client.get("/api/status").json["health"] == {"status": "ok", "reason": None}


def test_the_verdicts():
    app_mode = make_config("sqlite:///:memory:", app_id="1", private_key="k", check_interval=60)
    assert poller_health(app_mode, cycle(1), NOW)["status"] == "ok"
    assert poller_health(app_mode, cycle(2.9), NOW)["status"] == "ok"
    assert poller_health(app_mode, cycle(3.5), NOW)["status"] == "stale"  # three intervals
    assert poller_health(app_mode, None, NOW)["status"] == "stale"  # no worker ever ran
    degraded = poller_health(app_mode, cycle(1, errors=3), NOW)
    assert degraded == {"status": "degraded", "reason": "3 repositories could not be reconciled"}
    off = poller_health(make_config("sqlite:///:memory:"), cycle(1), NOW)
    assert off["status"] == "off"


def test_status_reports_a_lease_never_taken_as_stale(database_url):
    config = make_config(database_url, github_token="t")
    app = create_app(config)
    db.migrate(db.database.obj)
    assert lease.describe(lease.POLLER) is None
    health = app.test_client().get("/api/status").json["health"]
    assert health["status"] == "stale"
    db.database.obj.close_all()
