"""The JSON API: the seed's four routes (also per repository), the PR list, one job's diagnosis,
/api/status and /healthz."""

import datetime

from flask import Blueprint, current_app, jsonify, request
from peewee import InterfaceError, OperationalError

from prmonitor import metrics
from prmonitor.storage import analyses, diagnoses, lease, listing, outbox, queries, tasks
from prmonitor.storage.db import database
from prmonitor.storage.models import from_iso
from prmonitor.web import auth
from prmonitor.web.params import (
    BadRequest,
    bounded_int,
    positive_int,
    pr_cursor,
    pr_state,
    repo_name,
)

bp = Blueprint("api", __name__)
# GitHub's job ids (eleven digits today) are 64-bit; the path takes up to twelve digits.
JOB_ID_MAX = 10**12 - 1


def error(status, message):
    """The API's error answer: {"success": false, "error": message}."""
    return jsonify({"success": False, "error": message}), status


@bp.errorhandler(BadRequest)
def _bad_request(exc):
    return error(400, str(exc))


@bp.errorhandler(queries.NotFound)
def _not_found(exc):
    return error(404, str(exc))


@bp.errorhandler(queries.Ambiguous)
def _ambiguous(exc):
    names = ", ".join(exc.repos)
    return error(409, f"that number exists in several repositories ({names}): add ?repo=owner/name")


def _pr(number, repo=None):
    return auth.visible_pr(
        positive_int(number, "pull request number"), repo_name(repo or request.args.get("repo"))
    )


# -- routes ----------------------------------------------------------------------------------


@bp.get("/api/prs")
def list_prs():
    """GET /api/prs[?repo=owner/name&state=open|closed|merged&limit=N&after=CURSOR]: the
    tracked pull requests, open first then most recently updated, a page at a time; `next`
    is the `after` of the next page (null on the last)."""
    where = listing.PrFilter(
        repo=repo_name(request.args.get("repo")),
        state=pr_state(request.args.get("state")),
        after=pr_cursor(request.args.get("after")),
        visible=auth.visible_repos(),
    )
    limit = bounded_int(request.args.get("limit"), "limit", default=100, most=500)
    prs, cursor = listing.list_prs(where, limit)
    return jsonify({"success": True, "prs": prs, "next": cursor})


@bp.get("/api/prs/<number>/workflows")
@bp.get("/api/repos/<owner>/<name>/prs/<number>/workflows")
def pr_workflows(number, owner=None, name=None):
    """The seed's GET /api/prs/<number>/workflows."""
    pr = _pr(number, _joined(owner, name))
    return jsonify({"success": True, "workflows": queries.workflows_for_pr(pr.id)})


@bp.get("/api/prs/<number>/failed-jobs")
@bp.get("/api/repos/<owner>/<name>/prs/<number>/failed-jobs")
def pr_failed_jobs(number, owner=None, name=None):
    """The seed's GET /api/prs/<number>/failed-jobs."""
    pr = _pr(number, _joined(owner, name))
    return jsonify({"success": True, "failed_jobs": queries.failed_jobs_for_pr(pr.id)})


@bp.get("/api/prs/<number>/workflow-summary")
@bp.get("/api/repos/<owner>/<name>/prs/<number>/workflow-summary")
def pr_workflow_summary(number, owner=None, name=None):
    """The seed's GET /api/prs/<number>/workflow-summary, with the failed jobs by class."""
    pr = _pr(number, _joined(owner, name))
    summary = queries.workflow_summary(pr.id)
    summary["failure_classes"] = diagnoses.failure_class_counts(pr.id)
    return jsonify({"success": True, "summary": summary})


@bp.get("/api/prs/<number>/notifications")
@bp.get("/api/repos/<owner>/<name>/prs/<number>/notifications")
def pr_notifications(number, owner=None, name=None):
    """What was sent about the PR, newest first (channel, action, GitHub's id, the body's
    hash, the error), and whether more is pending."""
    pr = _pr(number, _joined(owner, name))
    sent = [_notification(row) for row in outbox.sent_for(pr.id)]
    return jsonify({"success": True, "notifications": sent, "pending": outbox.pending(pr.id)})


def _notification(row):
    return {
        "channel": row.channel,
        "action": row.action,
        "sent_at": queries.iso(row.sent_at),
        "head_sha": row.head_sha,
        "remote_id": row.remote_id,
        "body_hash": row.body_hash,
        "headline": row.headline,
        "error": row.error,
    }


@bp.post("/api/analyses/<analysis_id>/feedback")
def analysis_feedback(analysis_id):
    """POST {"correct": true|false, "note": "..."}: whether an AI verdict was right."""
    row = analyses.get(bounded_int(analysis_id, "analysis id", most=2**62))
    if row is None or not auth.can_see(analyses.repo_of(row)):
        return error(404, f"analysis {analysis_id} is not stored")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("correct"), bool):
        return error(400, 'send {"correct": true|false, "note": "..."} as JSON')
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        return error(400, "note must be a string")
    analyses.add_feedback(row.id, body["correct"], note, who=auth.signed_in() or "api")
    return jsonify({"success": True, "feedback": analyses.feedback_for(row.id)}), 201


@bp.get("/api/analyses/stats")
def analysis_stats():
    """Agreement of the AI's verdicts with the feedback, by verdict and model; grounding
    failures; tokens and latency per analysis."""
    refused = auth.require_operator()
    if refused:
        return refused
    return jsonify({"success": True, "stats": analyses.stats()})


@bp.get("/api/workflows/<workflow_id>/jobs")
def workflow_jobs(workflow_id):
    """The seed's GET /api/workflows/<id>/jobs."""
    workflow_id = positive_int(workflow_id, "workflow id")
    if not auth.can_see(queries.repo_of_workflow(workflow_id)):
        raise queries.NotFound(f"workflow {workflow_id} does not exist")
    jobs = queries.jobs_for_workflow(workflow_id)
    return jsonify({"success": True, "jobs": jobs})


@bp.get("/api/jobs/<job_id>")
def one_job(job_id):
    """GET /api/jobs/<job_id>: one job by GitHub's job id, with its diagnosis and excerpt."""
    found = diagnoses.job_by_github_id(bounded_int(job_id, "job id", most=JOB_ID_MAX))
    if not auth.can_see(found["repo"]):
        raise queries.NotFound(f"job {job_id} is not stored")
    return jsonify({"success": True, "job": found})


def _joined(owner, name):
    return f"{owner}/{name}" if owner is not None else None


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 otherwise."""
    try:
        database.execute_sql("SELECT 1")
    except (OperationalError, InterfaceError):
        return jsonify({"ok": False, "error": "database unavailable"}), 503
    return jsonify({"ok": True})


@bp.get("/metrics")
def metrics_text():
    """Prometheus' text format: deliveries, latencies, job times, GitHub calls, poll cycles,
    diagnoses, notifications and analyses, summed over every worker (prmonitor.metrics)."""
    body, content_type = metrics.exposition()
    return body, 200, {"Content-Type": content_type}


@bp.get("/api/status")
def status():
    """What the poller and the receiver have been doing: the poller's lease and its last cycle
    (calls, 304s, calls counted against the rate limit), and the last day's deliveries."""
    refused = auth.require_operator()
    if refused:
        return refused
    config = current_app.config["PRMONITOR"]
    poller = lease.describe(lease.POLLER)
    return jsonify(
        {
            "success": True,
            "webhooks": bool(config.webhook_secrets),
            "polling": _polling_mode(config),
            "check_interval": config.check_interval,
            "poller": poller,
            "health": poller_health(config, poller),
            "deliveries_last_24h": queries.delivery_outcomes(hours=24),
            "diagnosis_tasks": tasks.backlog(),
            "notifications": outbox.depth(),
        }
    )


def poller_health(config, poller, now=None):
    """A plain verdict on the poller: {"status": "ok" | "degraded" | "stale" | "off", "reason"}.
    Stale: no cycle finished within three intervals (no worker runs, or it hangs); degraded:
    the last cycle had errors (GitHub unreachable, repositories that failed)."""
    if not config.can_poll:
        return {"status": "off", "reason": "no GitHub credentials: polling is off"}
    last = (poller or {}).get("last_cycle") or {}
    finished = from_iso(last.get("finished_at"))
    now = now or datetime.datetime.now(datetime.UTC)
    if finished is None or (now - finished).total_seconds() > 3 * config.check_interval:
        return {"status": "stale", "reason": "no poll cycle finished in the last three intervals"}
    if last.get("errors"):
        reason = last.get("problem") or f"{last['errors']} repositories could not be reconciled"
        return {"status": "degraded", "reason": reason}
    return {"status": "ok", "reason": None}


def _polling_mode(config):
    if config.has_app_credentials:
        return "app"
    return "token" if config.github_token else "off"
