"""The dashboard: tracked pull requests, and one page per PR, over the API's own queries."""

import hmac
import json
import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from prmonitor.storage import analyses, listing, queries
from prmonitor.web.manifest import web_url
from prmonitor.web.params import BadRequest, positive_int, repo_name

bp = Blueprint("dashboard", __name__, template_folder="templates")


@bp.get("/")
def index():
    """The tracked pull requests."""
    prs, _ = listing.list_prs()
    return render_template("index.html", prs=prs)


@bp.get("/prs/<number>")
@bp.get("/prs/<owner>/<name>/<number>")
def pr_details(number, owner=None, name=None):
    """One PR's runs, jobs and failures."""
    repo = f"{owner}/{name}" if owner is not None else None
    try:
        pr = queries.resolve_pr(positive_int(number, "number"), repo_name(repo))
    except (BadRequest, queries.NotFound):
        abort(404)
    except queries.Ambiguous as exc:
        return render_template("ambiguous.html", number=number, repos=exc.repos), 409
    workflows = queries.workflows_for_pr(pr.id)
    jobs = {w["id"]: queries.jobs_for_workflow(w["id"]) for w in workflows}
    return render_template(
        "pr.html",
        pr=queries.pr_to_dict(pr),
        workflows=workflows,
        jobs=jobs,
        summary=queries.workflow_summary(pr.id),
        failed_jobs=queries.failed_jobs_for_pr(pr.id),
    )


# Forms carry a token equal to a cookie of this site (double submit): another site can make
# a browser post a form here, but cannot read the cookie to put its value in the form.
# https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
CSRF_COOKIE = "prmonitor_csrf"


@bp.app_template_global()
def csrf_token():
    """This browser's form token (set as a cookie with the page)."""
    if "csrf" not in g:
        g.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    return g.csrf


@bp.after_app_request
def _set_csrf_cookie(response):
    if "csrf" in g and request.cookies.get(CSRF_COOKIE) != g.csrf:
        response.set_cookie(
            CSRF_COOKIE, g.csrf, httponly=True, samesite="Lax", secure=request.is_secure
        )
    return response


@bp.post("/analyses/<analysis_id>/feedback")
def analysis_feedback(analysis_id):
    """The dashboard's two buttons under an AI verdict: right or wrong."""
    given, kept = request.form.get("csrf", ""), request.cookies.get(CSRF_COOKIE, "")
    if not kept or not hmac.compare_digest(given.encode(), kept.encode()):
        return "The form expired: reload the page and try again.", 400
    try:
        row = analyses.get(positive_int(analysis_id, "analysis id"))
    except BadRequest:
        abort(404)
    if row is None or request.form.get("correct") not in ("true", "false"):
        abort(404 if row is None else 400)
    analyses.add_feedback(row.id, request.form["correct"] == "true", who="dashboard")
    back = request.form.get("back", "/")
    return redirect(back if back.startswith("/prs/") else "/", code=303)


@bp.app_template_global()
def pr_url(pr):
    """The PR's page: by repository and number, or by number alone for seed-era rows."""
    owner, _, name = (pr["repo"] or "").partition("/")
    if owner and name:
        return url_for("dashboard.pr_details", owner=owner, name=name, number=pr["pr_number"])
    return url_for("dashboard.pr_details", number=pr["pr_number"])


@bp.app_template_filter("github_url")
def github_url(url):
    """`url` when it is a page on the configured GitHub (https://github.com/..., or the
    Enterprise Server's host), else None: a payload's html_url is the sender's text, and a
    javascript: or other site's URL must not become a live link."""
    if not isinstance(url, str):
        return None
    base = urlsplit(web_url(current_app.config["PRMONITOR"].github_api_url))
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc.lower() == base.netloc.lower():
        return url
    return None


@bp.app_template_filter("steps")
def _steps(raw):
    """failed_steps is stored as a JSON array in a string, as the seed stored it."""
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []
