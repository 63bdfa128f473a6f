"""The JSON API: the seed's four routes (also per repository), the PR list, /api/status and
/healthz."""

import re

from flask import Blueprint, current_app, jsonify, request
from peewee import InterfaceError, OperationalError

from prmonitor.storage import lease, queries
from prmonitor.storage.db import database

bp = Blueprint("api", __name__)

REPO_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
MAX_NUMBER = 2**31 - 1
DIGITS = re.compile(r"[0-9]{1,12}")


class BadRequest(ValueError):
    pass


def error(status, message):
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


def positive_int(raw, what):
    if not DIGITS.fullmatch(raw) or not 0 < int(raw) <= MAX_NUMBER:
        raise BadRequest(f"{what} must be a positive integer")
    return int(raw)


def repo_name(raw):
    if raw is None:
        return None
    if not REPO_NAME.fullmatch(raw):
        raise BadRequest("repo must look like owner/name")
    return raw


def _pr(number, repo=None):
    return queries.resolve_pr(
        positive_int(number, "pull request number"), repo_name(repo or request.args.get("repo"))
    )


# -- routes ----------------------------------------------------------------------------------


@bp.get("/api/prs")
def list_prs():
    return jsonify({"success": True, "prs": queries.list_prs()})


@bp.get("/api/prs/<number>/workflows")
@bp.get("/api/repos/<owner>/<name>/prs/<number>/workflows")
def pr_workflows(number, owner=None, name=None):
    pr = _pr(number, _joined(owner, name))
    return jsonify({"success": True, "workflows": queries.workflows_for_pr(pr.id)})


@bp.get("/api/prs/<number>/failed-jobs")
@bp.get("/api/repos/<owner>/<name>/prs/<number>/failed-jobs")
def pr_failed_jobs(number, owner=None, name=None):
    pr = _pr(number, _joined(owner, name))
    return jsonify({"success": True, "failed_jobs": queries.failed_jobs_for_pr(pr.id)})


@bp.get("/api/prs/<number>/workflow-summary")
@bp.get("/api/repos/<owner>/<name>/prs/<number>/workflow-summary")
def pr_workflow_summary(number, owner=None, name=None):
    pr = _pr(number, _joined(owner, name))
    return jsonify({"success": True, "summary": queries.workflow_summary(pr.id)})


@bp.get("/api/workflows/<workflow_id>/jobs")
def workflow_jobs(workflow_id):
    jobs = queries.jobs_for_workflow(positive_int(workflow_id, "workflow id"))
    return jsonify({"success": True, "jobs": jobs})


def _joined(owner, name):
    return f"{owner}/{name}" if owner is not None else None


@bp.get("/healthz")
def healthz():
    try:
        database.execute_sql("SELECT 1")
    except (OperationalError, InterfaceError):
        return jsonify({"ok": False, "error": "database unavailable"}), 503
    return jsonify({"ok": True})


@bp.get("/api/status")
def status():
    """What the poller and the receiver have been doing: the poller's lease and its last cycle
    (calls, 304s, calls counted against the rate limit), and the last day's deliveries."""
    config = current_app.config["PRMONITOR"]
    return jsonify(
        {
            "success": True,
            "webhooks": bool(config.webhook_secrets),
            "polling": _polling_mode(config),
            "check_interval": config.check_interval,
            "poller": lease.describe(lease.POLLER),
            "deliveries_last_24h": queries.delivery_outcomes(hours=24),
        }
    )


def _polling_mode(config):
    if config.has_app_credentials:
        return "app"
    return "token" if config.github_token else "off"
