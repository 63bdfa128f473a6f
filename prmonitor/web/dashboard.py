"""The dashboard: tracked pull requests, and one page per PR, over the API's own queries."""

import json
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from prmonitor.github.user_access import web_url
from prmonitor.storage import analyses, listing, pages, queries, trends
from prmonitor.web import auth, present
from prmonitor.web.params import (
    BadRequest,
    positive_int,
    pr_cursor,
    pr_state,
    pr_status,
    repo_name,
    search_text,
)

bp = Blueprint("dashboard", __name__, template_folder="templates")


PAGE_SIZE = 50
FILTERS = ("q", "repo", "state", "status")  # what the next page's link carries on


# How often a PR page with queued or running jobs fetches its data again.
REFRESH_MS = 5000


@bp.record_once
def _register(state):
    present.init_app(state.app)
    state.app.add_template_global(REFRESH_MS, "refresh_ms")


@bp.get("/")
def index():
    """The tracked pull requests, newest activity first, a page at a time, filtered."""
    try:
        where = listing.PrFilter(
            repo=repo_name(request.args.get("repo") or None),
            state=pr_state(request.args.get("state") or None),
            after=pr_cursor(request.args.get("after") or None),
            status=pr_status(request.args.get("status") or None),
            search=search_text(request.args.get("q") or None),
            visible=auth.visible_repos(),
        )
    except BadRequest as exc:
        return render_template("index.html", prs=[], error=str(exc), args=request.args), 400
    prs, cursor = listing.list_prs(where, PAGE_SIZE)
    classes = listing.failure_classes([pr["id"] for pr in prs])
    for pr in prs:
        pr["failure_classes"] = classes.get(pr["id"], {})
    args = {k: request.args[k] for k in FILTERS if request.args.get(k)}
    later = url_for("dashboard.index", **args, after=cursor) if cursor else None
    return render_template("index.html", prs=prs, args=request.args, later=later, error=None)


@bp.get("/prs/<number>")
def pr_by_number(number):
    """A PR by its number alone: to its page when one repository has it."""
    try:
        pr = auth.visible_pr(positive_int(number, "number"))
    except (BadRequest, queries.NotFound):
        abort(404)
    except queries.Ambiguous as exc:
        return render_template("ambiguous.html", number=number, repos=exc.repos), 409
    if "/" not in (pr.repo_full_name or ""):
        return _pr_page(pr)  # a seed-era row, tracked by number alone
    return redirect(pr_url({"repo": pr.repo_full_name, "pr_number": pr.pr_number}))


@bp.get("/prs/<owner>/<name>/<number>")
def pr_details(number, owner, name):
    """One PR: its failures first, then each run of its head with a timeline of its jobs,
    then the runs of earlier heads, folded."""
    try:
        pr = auth.visible_pr(positive_int(number, "number"), repo_name(f"{owner}/{name}"))
    except (BadRequest, queries.NotFound):
        abort(404)
    return _pr_page(pr)


@bp.get("/repos/<owner>/<name>")
def repo_trends(owner, name):
    """A repository's CI over its latest runs: pass rate, duration and queue time per
    workflow, the flakiest jobs, the most common failures."""
    try:
        repo = repo_name(f"{owner}/{name}")
    except BadRequest:
        abort(404)
    if not auth.can_see(repo):
        abort(404)
    found = trends.repo_trends(queries.stored_repo_name(repo))
    if not found["runs"]:
        abort(404)
    return render_template("trends.html", repo=repo, trends=found)


def _pr_page(pr):
    page = pages.pr_page(pr)
    live = pages.is_live(page)
    template = "pr_live.html" if request.headers.get("X-Live") == "1" else "pr.html"
    body = render_template(template, pr=queries.pr_to_dict(pr), page=page, live=live)
    # The page and its live part share the address: no cache may give one for the other.
    return body, 200, {"Vary": "X-Live", "Cache-Control": "no-store"}


@bp.post("/analyses/<analysis_id>/feedback")
def analysis_feedback(analysis_id):
    """The dashboard's two buttons under an AI verdict: right or wrong."""
    # The form's CSRF token was checked before this runs (auth._check_csrf).
    try:
        row = analyses.get(positive_int(analysis_id, "analysis id"))
    except BadRequest:
        abort(404)
    if row is not None and not auth.can_see(analyses.repo_of(row)):
        row = None
    if row is None or request.form.get("correct") not in ("true", "false"):
        abort(404 if row is None else 400)
    who = auth.signed_in() or "dashboard"
    analyses.add_feedback(row.id, request.form["correct"] == "true", who=who)
    back = request.form.get("back", "/")
    return redirect(back if back.startswith("/prs/") else "/", code=303)


@bp.app_template_global()
def pr_url(pr):
    """The PR's page: by repository and number, or by number alone for seed-era rows."""
    owner, _, name = (pr["repo"] or "").partition("/")
    if owner and name:
        return url_for("dashboard.pr_details", owner=owner, name=name, number=pr["pr_number"])
    return url_for("dashboard.pr_by_number", number=pr["pr_number"])


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
