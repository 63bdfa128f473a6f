"""The dashboard: tracked pull requests, and one page per PR, over the API's own queries."""

import json

from flask import Blueprint, abort, render_template, url_for

from prmonitor.storage import queries
from prmonitor.web.params import BadRequest, positive_int, repo_name

bp = Blueprint("dashboard", __name__, template_folder="templates")


@bp.get("/")
def index():
    """The tracked pull requests."""
    return render_template("index.html", prs=queries.list_prs())


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


@bp.app_template_global()
def pr_url(pr):
    """The PR's page: by repository and number, or by number alone for seed-era rows."""
    owner, _, name = (pr["repo"] or "").partition("/")
    if owner and name:
        return url_for("dashboard.pr_details", owner=owner, name=name, number=pr["pr_number"])
    return url_for("dashboard.pr_details", number=pr["pr_number"])


@bp.app_template_filter("steps")
def _steps(raw):
    """failed_steps is stored as a JSON array in a string, as the seed stored it."""
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []
