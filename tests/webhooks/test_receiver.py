"""The receiver's contract: signatures, status codes, delivery dedupe, commit-before-2xx."""

import json

import pytest

from prmonitor import create_app
from prmonitor.storage import db, ingest
from prmonitor.storage.models import Delivery, Workflow, WorkflowJob
from prmonitor.webhooks.receiver import sign, verify_signature

from ..events import HANDLED_EVENTS, fixture, job_event, octokit_webhooks, run_event
from ..helpers import SECRET, WEBHOOKS, delivery_headers, make_config, signed_post


def counts():
    return Workflow.select().count(), WorkflowJob.select().count(), Delivery.select().count()


def test_verify_signature_accepts_any_configured_secret():
    body = b'{"a": 1}'
    assert verify_signature(body, sign(body, "new"), ("old", "new"))
    assert verify_signature(body, sign(body, "old"), ("old", "new"))
    assert not verify_signature(body, sign(body, "other"), ("old", "new"))
    assert not verify_signature(body, sign(body + b" ", "old"), ("old",))
    assert not verify_signature(body, None, ("old",))
    assert not verify_signature(body, "sha1=abc", ("old",))
    assert not verify_signature(body, "sha256=zz\u00e9", ("old",))


def test_valid_delivery_is_stored_and_answered_after_commit(deliver, database):
    response = deliver("workflow_run", fixture("workflow_run.completed"), delivery_id="d-1")
    assert response.status_code == 200
    assert response.json["outcome"] == "processed"
    # Read on a fresh connection: the row must already be committed.
    database.close()
    database.connect()
    run = Workflow.get(Workflow.run_id == 9100000001)
    assert (run.status, run.conclusion, run.workflow_name) == ("completed", "failure", "CI")
    delivery = Delivery.get(Delivery.delivery_id == "d-1")
    assert (delivery.event, delivery.action, delivery.outcome) == (
        "workflow_run",
        "completed",
        "processed",
    )


@pytest.mark.parametrize(
    "headers",
    [{"X-Hub-Signature-256": "sha256=" + "0" * 64}, {"X-Hub-Signature-256": ""}, {}],
)
def test_bad_or_missing_signature_is_401_and_stores_nothing(client, database, headers):
    body = json.dumps(fixture("workflow_run.completed")).encode()
    sent = {"X-GitHub-Event": "workflow_run", "X-GitHub-Delivery": "d-bad", **headers}
    response = client.post(WEBHOOKS, data=body, headers=sent, content_type="application/json")
    assert response.status_code == 401
    assert response.json["ok"] is False
    assert counts() == (0, 0, 0)


def test_signed_with_wrong_secret_is_401(deliver, database):
    response = deliver("workflow_run", fixture("workflow_run.completed"), secret="nope")
    assert response.status_code == 401
    assert counts() == (0, 0, 0)


def test_no_secret_configured_is_503(database_url):
    from prmonitor import create_app

    app = create_app(make_config(database_url, webhook_secrets=()))
    response = app.test_client().post(WEBHOOKS, data=b"{}", headers={"X-GitHub-Event": "ping"})
    assert response.status_code == 503
    assert "WEBHOOK_SECRET" in response.json["error"]


def test_rotated_secrets_are_all_accepted(database_url):
    from prmonitor import create_app
    from prmonitor.storage import db

    app = create_app(make_config(database_url, webhook_secrets=("old", SECRET)))
    db.migrate()
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    for secret in ("old", SECRET):
        response = signed_post(app.test_client(), "ping", body, secret=secret)
        assert response.status_code == 200


def test_missing_event_header_is_400(client, database):
    body = b'{"zen": "x"}'
    response = client.post(WEBHOOKS, data=body, headers={"X-Hub-Signature-256": sign(body, SECRET)})
    assert response.status_code == 400
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("body", [b"{", b"[1, 2]", b"\xff\xfe", b"", b"null", b"[" * 100000])
def test_malformed_json_is_400(deliver, database, body):
    response = deliver("workflow_run", body)
    assert response.status_code == 400
    assert counts()[:2] == (0, 0)


def test_body_over_25_mb_is_413(deliver, database):
    response = deliver("workflow_run", b" " * (25 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert counts() == (0, 0, 0)


def test_unhandled_event_is_202_and_recorded_as_ignored(deliver, database):
    response = deliver("star", {"action": "created", "starred_at": None}, delivery_id="d-star")
    assert response.status_code == 202
    assert Delivery.get(Delivery.delivery_id == "d-star").outcome == "ignored"


def test_form_encoded_delivery_is_accepted(client, database):
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(fixture("workflow_run.completed"))}).encode()
    form = "application/x-www-form-urlencoded"
    headers = delivery_headers("workflow_run", body, content_type=form)
    response = client.post(WEBHOOKS, data=body, headers=headers)
    assert response.status_code == 200
    assert Workflow.select().count() == 1


def test_redelivery_of_a_processed_delivery_changes_nothing(deliver, database):
    first = run_event("in_progress", status="in_progress", updated_at="2026-11-20T10:01:00Z")
    assert deliver("workflow_run", first, delivery_id="same").json["outcome"] == "processed"
    # Same delivery id, different content: a redelivery must not be applied twice.
    later = run_event("completed", updated_at="2026-11-20T10:09:00Z")
    response = deliver("workflow_run", later, delivery_id="same")
    assert response.status_code == 200
    assert response.json["outcome"] == "duplicate"
    assert Workflow.get().status == "in_progress"
    assert Delivery.get(Delivery.delivery_id == "same").attempts == 1


def test_invalid_delivery_leaves_no_rows_and_can_be_redelivered(deliver, database):
    bad = job_event("completed")
    bad["workflow_job"]["run_id"] = "not a number"
    response = deliver("workflow_job", bad, delivery_id="d-fix")
    assert response.status_code == 400
    assert counts()[:2] == (0, 0)
    delivery = Delivery.get(Delivery.delivery_id == "d-fix")
    assert delivery.outcome == "invalid" and "run_id" in delivery.error
    # The same delivery id, now well-formed (a redelivery after a fix), is processed.
    response = deliver("workflow_job", job_event("completed"), delivery_id="d-fix")
    assert response.json["outcome"] == "processed"
    assert counts()[:2] == (1, 1)
    assert Delivery.get(Delivery.delivery_id == "d-fix").attempts == 2


def test_a_half_handled_delivery_rolls_back_entirely(deliver, database, monkeypatch):
    """The database refuses the last write of a delivery: none of its earlier writes remain."""
    from peewee import DataError

    from prmonitor.storage import upserts

    def refuse(workflow_id):
        assert Workflow.select().count() == 1 and WorkflowJob.select().count() == 1
        raise DataError("value too long")

    monkeypatch.setattr(upserts, "refresh_failure_details", refuse)
    response = deliver("workflow_job", job_event("completed"), delivery_id="d-half")
    assert response.status_code == 400
    assert counts()[:2] == (0, 0)
    assert Delivery.get(Delivery.delivery_id == "d-half").outcome == "invalid"


def test_payloads_are_parsed_before_the_write_transaction_begins(deliver, database, monkeypatch):
    """The write transaction (on SQLite, the one write lock) is held only to write."""
    from prmonitor.github import payloads

    seen = {}
    parse_job, record_jobs = payloads.parse_job, ingest.record_jobs

    def parse(job):
        seen["parsed in transaction"] = database.in_transaction()
        return parse_job(job)

    def write(jobs):
        seen["written in transaction"] = database.in_transaction()
        return record_jobs(jobs)

    monkeypatch.setattr(payloads, "parse_job", parse)
    monkeypatch.setattr(ingest, "record_jobs", write)
    assert deliver("workflow_job", job_event("completed")).status_code == 200
    assert seen == {"parsed in transaction": False, "written in transaction": True}
    assert counts() == (1, 1, 1)


@pytest.mark.parametrize("event,path", octokit_webhooks(), ids=lambda v: getattr(v, "name", v))
def test_every_published_github_example_is_accepted(deliver, database, event, path):
    response = deliver(event, path.read_bytes())
    assert response.status_code in (200, 202), response.json
    assert response.status_code == (200 if event in HANDLED_EVENTS else 202)


@pytest.mark.parametrize("poller_running", [False, True])
def test_deliveries_commit_asynchronously_only_while_a_poller_restores(
    database_url, poller_running, monkeypatch
):
    from prmonitor.storage import lease
    from prmonitor.webhooks import receiver

    monkeypatch.setattr(lease, "poller_held_lately", lease.HeldLately(lease.POLLER))
    config = make_config(database_url, app_id="1", private_key="(the web app never signs)")
    app = create_app(config)
    db.migrate(db.database.obj)
    if poller_running:
        lease.acquire(lease.POLLER, "a worker", 60)
    with app.app_context():
        assert receiver.poller_restores(config) is poller_running
        assert not receiver.poller_restores(make_config(database_url))  # no App: never
    # What the delivery's own transaction runs with, read inside it after its writes.
    seen, record_jobs = [], ingest.record_jobs

    def observed(*args):
        written = record_jobs(*args)
        seen.append(db.database.execute_sql("SHOW synchronous_commit").fetchone()[0])
        return written

    if db.is_postgres():
        monkeypatch.setattr(ingest, "record_jobs", observed)
    client = app.test_client()
    first = signed_post(client, "workflow_job", job_event("completed"), delivery_id="d-1")
    again = signed_post(client, "workflow_job", job_event("completed"), delivery_id="d-1")
    assert (first.json["outcome"], again.json["outcome"]) == ("processed", "duplicate")
    assert WorkflowJob.select().count() == 1
    if db.is_postgres():
        assert seen == (["off"] if poller_running else ["on"])
    db.database.obj.close_all()
