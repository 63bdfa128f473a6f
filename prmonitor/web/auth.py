"""API_TOKEN: when it is set, /api/* and the dashboard require it (a bearer header, or a cookie
set once from ?token=); the webhook path, /healthz and GitHub's redirect stay open."""

import hmac
from urllib.parse import urlencode

from flask import jsonify, redirect, request

# Paths that stay open when API_TOKEN is set: GitHub signs its deliveries instead, load
# balancers probe /healthz without credentials, and GitHub's redirect back to /setup/callback
# (cross-site: the token's SameSite=Strict cookie stays behind) is checked by its state cookie.
OPEN_PATHS = ("/api/github/webhooks", "/healthz", "/static/", "/setup/callback")
COOKIE = "prmonitor_token"


def init_app(app, token):
    """Require `token` on every request but the open paths; nothing when it is None."""
    if not token:
        return

    @app.before_request
    def _require_token():
        if request.path.startswith(OPEN_PATHS):
            return None
        given = _presented_token()
        if not (given and hmac.compare_digest(given.encode(), token.encode())):
            if request.path.startswith("/api/"):
                return jsonify({"success": False, "error": "API_TOKEN required"}), 401
            return "API_TOKEN required: open this page with ?token=... once", 401
        if request.args.get("token") and request.method == "GET":
            return _keep_token_in_cookie()
        return None


def _keep_token_in_cookie():
    """A dashboard link opened with ?token= sets a cookie and drops the token from the address
    bar (and so from later access logs and Referer headers)."""
    args = {k: v for k, v in request.args.items(multi=True) if k != "token"}
    response = redirect(f"{request.path}?{urlencode(args)}" if args else request.path)
    response.set_cookie(
        COOKIE,
        request.args["token"],
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )
    return response


def _presented_token():
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.args.get("token") or request.cookies.get(COOKIE)
