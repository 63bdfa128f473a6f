"""The webhook receiver: verify the signature, parse, then dedupe and write in one transaction.

GitHub's rules this follows (https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks):
deliveries can arrive out of order and more than once, a redelivery keeps its X-GitHub-Delivery,
GitHub never retries a failed delivery by itself, and it gives up on an answer after 10 seconds.
"""

import hashlib
import hmac
import json
import logging
import time
import uuid
from urllib.parse import parse_qs

from flask import Blueprint, current_app, g, jsonify, request
from peewee import DataError, IntegrityError, InterfaceError, OperationalError
from werkzeug.exceptions import ClientDisconnected

from prmonitor import metrics
from prmonitor.github import fields
from prmonitor.github.payloads import PayloadError, clean_text
from prmonitor.storage import db, deliveries, lease
from prmonitor.webhooks.handlers import router
from prmonitor.webhooks.routing import Event

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

# GitHub caps webhook payloads at 25 MB and does not send larger ones.
MAX_BODY_BYTES = 25 * 1024 * 1024


def verify_signature(body, header, secrets):
    """True when X-Hub-Signature-256 is the HMAC-SHA256 of the body under one of the secrets."""
    if not header or not header.startswith("sha256="):
        return False
    given = header[len("sha256=") :].strip().encode("ascii", "replace")
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        # Compare against every secret so the time taken does not say which one matched.
        matched |= hmac.compare_digest(expected, given)
    return matched


def sign(body, secret):
    """The X-Hub-Signature-256 value GitHub would send for this body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_body(body, content_type):
    """The payload object, from a JSON body or a form body's `payload` field."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = parse_qs(body.decode("utf-8", "strict"))
        body = (fields.get("payload") or [""])[0]
    payload = json.loads(body)
    if not isinstance(payload, dict):
        raise ValueError("the payload must be a JSON object")
    return payload


def _reply(status, **fields):
    g.outcome = fields.get("outcome") or ("refused" if status < 500 else "failed")
    ok = 200 <= status < 300
    return jsonify({"ok": ok, "success": ok, **fields}), status


@bp.post("/api/github/webhooks")
def receive():
    """POST /api/github/webhooks: verify, parse, then claim and write in one transaction."""
    started = time.perf_counter()
    try:
        return _receive()
    finally:  # an error the app answers with 500 or 503 is counted too
        # The event name is the sender's text until the signature holds (g.event is set only
        # then), and a signed event prmonitor does not handle is one of GitHub's dozens: both
        # count as "other".
        event = g.get("event")
        if not router.handles(event):
            event = "other"
        metrics.delivery(event, g.get("outcome", "failed"), time.perf_counter() - started)


def _receive():
    secrets = current_app.config["PRMONITOR"].webhook_secrets
    if not secrets:
        return _reply(503, error="webhooks are disabled: set WEBHOOK_SECRET to accept deliveries")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _reply(413, error="payload larger than 25 MB")
    try:
        body = _read_body()
    except (ClientDisconnected, TimeoutError) as exc:
        return _incomplete_body(exc)
    if body is None:
        return _reply(413, error="payload larger than 25 MB")
    if not verify_signature(body, request.headers.get("X-Hub-Signature-256"), secrets):
        return _reply(401, error="missing or invalid X-Hub-Signature-256")
    name = g.event = _header("X-GitHub-Event")
    if not name:
        return _reply(400, error="missing X-GitHub-Event header")
    try:
        payload = parse_body(body, request.content_type or "")
    except (ValueError, RecursionError):
        return _reply(400, error="the body is not a JSON object")
    event = Event(name, payload, _header("X-GitHub-Delivery") or f"local-{uuid.uuid4()}")
    return _handle(event)


def _read_body():
    """The raw body, or None past MAX_BODY_BYTES. A chunked body has no Content-Length to check
    first, and werkzeug's get_data() cuts it at the app's limit without a word (its signature
    then fails: a 401): read up to one byte past the limit to tell. A read may return less
    than it was asked for (werkzeug's stream is a raw one): read until the end."""
    chunks, size = [], 0
    while size <= MAX_BODY_BYTES:
        chunk = request.stream.read(MAX_BODY_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > MAX_BODY_BYTES else b"".join(chunks)


def _incomplete_body(exc):
    """The body stopped short: it stalled past prmonitor.server.BODY_TIMEOUT (408), or the
    client went away (400). Nothing that could be verified was read, so nothing is stored, and
    the connection closes after the answer. (werkzeug reports a failed read as
    ClientDisconnected, raised while handling the socket's error.)"""
    timed_out = isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)
    log.info(
        "delivery=%s body %s",
        _header("X-GitHub-Delivery"),
        "not received in time" if timed_out else "cut short",
    )
    if timed_out:
        return _reply(408, error="request body not received in time")
    return _reply(400, error="request body cut short")


def _header(name):
    value = request.headers.get(name, "")
    return clean_text(value.strip())[:255]


def _handle(event):
    if not router.handles(event.name):
        with db.writing():
            deliveries.claim(event.delivery_id, event.name, event.action, "ignored")
        log.debug("delivery=%s event=%s outcome=ignored", event.delivery_id, event.name)
        return _reply(202, delivery=event.delivery_id, outcome="ignored")
    try:
        outcome = _process(event)
    except PayloadError as exc:
        return _failed(event, 400, "invalid", str(exc))
    except (DataError, IntegrityError) as exc:
        # A value the parsers let through but the database refuses: still the payload's fault.
        log.warning(
            "delivery=%s event=%s refused by the database: %s",
            event.delivery_id,
            event.name,
            type(exc).__name__,
        )
        return _failed(event, 400, "invalid", "a value in the payload cannot be stored")
    except (OperationalError, InterfaceError) as exc:
        log.warning(
            "delivery=%s event=%s database unavailable: %s",
            event.delivery_id,
            event.name,
            db.describe(exc),
        )
        return _failed(event, 503, "failed", "database unavailable")
    # Routine deliveries are logged at DEBUG: the deliveries table records every one (id, event,
    # action, outcome, time), and a line each is most of a log drain's volume. A duplicate is a
    # redelivery, worth a line.
    log.log(
        logging.INFO if outcome == "duplicate" else logging.DEBUG,
        "delivery=%s event=%s action=%s outcome=%s",
        event.delivery_id,
        event.name,
        event.action,
        outcome,
    )
    if outcome == "processed" and event.name == "workflow_job" and event.action == "completed":
        _job_metrics(event.payload)
    return _reply(200, delivery=event.delivery_id, outcome=outcome)


def _job_metrics(payload):
    """A completed job's queue and run times, by repository and workflow (first delivery of
    its completion only: a duplicate is not processed)."""
    job = payload.get("workflow_job") or {}
    repo = (payload.get("repository") or {}).get("full_name")
    created, started, completed = (
        fields.timestamp(job, key) for key in ("created_at", "started_at", "completed_at")
    )
    queued = (started - created).total_seconds() if created and started else None
    ran = (completed - started).total_seconds() if started and completed else None
    name, conclusion = job.get("workflow_name"), job.get("conclusion")
    if all(isinstance(v, str) or v is None for v in (repo, name, conclusion)):
        metrics.job_completed(repo, name, conclusion, queued, ran)


def _process(event, attempts=3):
    """Parse the delivery, then write it, retrying when concurrent deliveries deadlock or the
    lock is busy. Parsing happens outside the transaction, which then only holds the lock to
    write."""
    found, writes = router.prepare(event)
    outcome = "processed" if found else "ignored"
    for attempt in range(1, attempts + 1):
        try:
            return _process_once(event, outcome, writes)
        except OperationalError as exc:
            if attempt == attempts:
                raise
            log.info("delivery=%s retry=%d reason=%r", event.delivery_id, attempt, db.describe(exc))
            time.sleep(0.05 * attempt)


def _process_once(event, outcome, writes):
    """Claim the delivery and run its writes in one transaction: all of its rows, or none.

    The claim is written with its final outcome: inside the transaction nobody else can see it,
    and a rollback takes it away with everything else."""
    claim = (event.delivery_id, event.name, event.action, outcome)
    if db.is_postgres():
        return _process_on_postgres(claim, outcome, writes)
    with db.writing():
        if not deliveries.claim(*claim):
            return "duplicate"
        _write(writes)
    return outcome


def _process_on_postgres(claim, outcome, writes):
    """The claim travels with the first write's round trip and fails on a duplicate, taking
    the writes with it (deliveries.claim_with_next_statement)."""
    restores = poller_restores(current_app.config["PRMONITOR"])
    try:
        with deliveries.refusing_duplicates(), db.writing():
            if restores:
                deliveries.commit_without_waiting_for_disk()
            deliveries.claim_with_next_statement(*claim)
            _write(writes)
    except deliveries.AlreadyProcessed:
        return "duplicate"
    return outcome


def _write(writes):
    for write in writes:
        write()


def poller_restores(config):
    """Whether the reconciliation poller would restore a delivery Postgres lost in a crash: with
    App credentials (it then reconciles every open PR of the installed repositories) and while
    a poller process holds its lease (a worker scaled to zero restores nothing)."""
    return config.has_app_credentials and lease.poller_held_lately()


def _failed(event, status, outcome, error):
    log.info(
        "delivery=%s event=%s outcome=%s error=%s", event.delivery_id, event.name, outcome, error
    )
    try:
        with db.writing():
            deliveries.record_failure(event.delivery_id, event.name, event.action, outcome, error)
    except (OperationalError, InterfaceError):
        log.warning("delivery=%s could not record the failure", event.delivery_id)
    return _reply(status, delivery=event.delivery_id, outcome=outcome, error=error)
