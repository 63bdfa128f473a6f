"""Creating the GitHub App from its manifest: GET /setup posts the manifest to GitHub, which
sends the browser back to /setup/callback with a code that becomes the App's id, key and secret.

https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
"""

import copy
import hmac
import re
import secrets

import requests
from flask import Blueprint, abort, current_app, render_template, request

from prmonitor.config import is_loopback
from prmonitor.github.user_access import web_url
from prmonitor.web import auth

bp = Blueprint("setup", __name__, template_folder="templates")

# The App prmonitor needs; github-app.json at the repository root is this with placeholder URLs.
MANIFEST = {
    "name": "prmonitor",
    "url": "https://github.com/prmonitor/prmonitor",
    "description": "Why is this pull request's CI red? Every run, job and failed step of every PR.",
    "hook_attributes": {
        "url": "https://YOUR-APP.herokuapp.com/api/github/webhooks",
        "active": True,
    },
    "public": False,
    "default_permissions": {
        "actions": "read",
        "checks": "write",
        "metadata": "read",
        "pull_requests": "write",
    },
    "default_events": ["workflow_run", "workflow_job", "pull_request"],
}
STATE_COOKIE = "prmonitor_setup_state"
OWNER = "[A-Za-z0-9-]{1,39}"


def manifest_for(root_url):
    """The manifest with this deployment's URLs (root_url ends with a slash)."""
    manifest = copy.deepcopy(MANIFEST)
    manifest["url"] = root_url
    manifest["hook_attributes"]["url"] = f"{root_url}api/github/webhooks"
    manifest["redirect_url"] = f"{root_url}setup/callback"
    # Where GitHub may send a person back after "Sign in with GitHub" (web.github_login).
    manifest["callback_urls"] = [f"{root_url}login/github/callback"]
    return manifest


@bp.get("/setup")
def start():
    """GET /setup: a button that posts the App's manifest to GitHub."""
    refused = auth.require_operator()
    if refused:
        return refused
    org = request.args.get("org", "")
    if org and not _is_owner(org):
        abort(400)
    if request.scheme != "https" and not is_loopback(request.host):
        # The callback page shows the App's private key and webhook secret.
        abort(400, "open /setup over https: the next page shows the App's secrets")
    base = web_url(current_app.config["PRMONITOR"].github_api_url)
    action = f"{base}/organizations/{org}/settings/apps/new" if org else f"{base}/settings/apps/new"
    state = secrets.token_urlsafe(24)
    page = render_template(
        "setup.html", action=action, state=state, manifest=manifest_for(request.url_root)
    )
    response = current_app.make_response(page)
    response.set_cookie(STATE_COOKIE, state, httponly=True, samesite="Lax", max_age=3600)
    return response


@bp.get("/setup/callback")
def callback():
    """GitHub's redirect after the App was created: turn the code into its credentials, once."""
    code, state = request.args.get("code", ""), request.args.get("state", "")
    expected = request.cookies.get(STATE_COOKIE, "")
    # The state is ours (token_urlsafe: ASCII letters, digits, - and _) and GitHub's code is
    # made of the same: anything else is forged. compare_digest refuses non-ASCII str.
    forged = not (_is_token(code) and _is_token(state) and expected)
    if forged or not hmac.compare_digest(state.encode(), expected.encode()):
        abort(400, "start again from /setup: the state does not match")
    api = current_app.config["PRMONITOR"].github_api_url
    try:
        answer = requests.post(f"{api}/app-manifests/{code}/conversions", timeout=(5, 30))
    except requests.RequestException:
        abort(502, "GitHub could not be reached; start again from /setup")
    if answer.status_code != 201:
        abort(502, f"GitHub answered {answer.status_code}; the code is single-use: start again")
    response = current_app.make_response(render_template("setup_done.html", app=answer.json()))
    response.headers["Cache-Control"] = "no-store"  # the page shows the App's secrets
    response.delete_cookie(STATE_COOKIE)
    return response


def _is_token(value):
    return re.fullmatch(r"[A-Za-z0-9_-]+", value) is not None


def _is_owner(name):
    return re.fullmatch(OWNER, name) is not None
