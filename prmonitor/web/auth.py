"""Who may read what. Machines send `Authorization: Bearer API_TOKEN` (or METRICS_TOKEN for
/metrics); people sign in on /login, with API_TOKEN or with GitHub, and carry a signed
session cookie (HttpOnly, SameSite=Lax, Secure behind https). Every form post here carries a
CSRF token. With neither API_TOKEN nor GitHub sign-in set, the dashboard and API are open
(and start-up warns when the server listens beyond this machine)."""

import datetime
import hashlib
import hmac
import secrets

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session
from flask.sessions import SecureCookieSessionInterface

bp = Blueprint("auth", __name__, template_folder="templates")

# Paths that stay open: GitHub signs its deliveries instead, load balancers probe /healthz
# without credentials, GitHub's redirects back (cross-site) are checked by their state
# cookies, and the sign-in pages are how a person gets in.
OPEN_PATHS = ("/api/github/webhooks", "/healthz", "/static/", "/setup/callback", "/login")
SESSION_COOKIE = "prmonitor_session"
SESSION_DAYS = 7

# Forms carry a token equal to a cookie of this site (double submit): another site can make
# a browser post a form here, but cannot read the cookie to put its value in the form.
# https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
CSRF_COOKIE = "prmonitor_csrf"


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, Secure whenever the request came over https (Heroku's
    router says so in X-Forwarded-Proto, which ProxyFix reads)."""

    def get_cookie_secure(self, app):
        return request.is_secure


def init_app(app, config):
    """Sessions, CSRF on form posts, and (when credentials are configured) the access check."""
    app.secret_key = session_key(config)
    app.session_interface = _SessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(days=SESSION_DAYS),
    )
    app.before_request(_check_csrf)
    app.before_request(_require_access)
    app.after_request(_set_csrf_cookie)
    app.add_template_global(csrf_token)
    app.add_template_global(signed_in)


def session_key(config):
    """The key that signs session cookies: derived from the secrets people sign in with, so
    every worker agrees without another setting, and changing API_TOKEN (or the OAuth secret)
    signs everyone out. Random when neither is set: no session is needed then."""
    material = f"{config.api_token or ''}\0{config.github_client_secret or ''}"
    if material == "\0":
        return secrets.token_bytes(32)
    return hmac.new(material.encode(), b"prmonitor session cookie", hashlib.sha256).digest()


def access_required(config):
    """Whether people and machines must show who they are."""
    return bool(config.api_token or config.github_sign_in)


def signed_in():
    """Who this browser signed in as (a GitHub login, or "API_TOKEN"), or None."""
    return session.get("who")


def _require_access():
    config = current_app.config["PRMONITOR"]
    if request.path == "/metrics":
        return _require_metrics_token(config)
    if not access_required(config) or request.path.startswith(OPEN_PATHS):
        return None
    if _bearer_matches(config.api_token) or signed_in():
        return None
    if request.path.startswith("/api/"):
        return jsonify({"success": False, "error": "sign in or send Authorization: Bearer"}), 401
    if request.method == "GET":
        return redirect(f"/login?next={_local(request.full_path)}")
    return "Sign in first: /login", 401


def _require_metrics_token(config):
    tokens = [t for t in (config.metrics_token, config.api_token) if t]
    if not tokens or any(_bearer_matches(t) for t in tokens):
        return None
    return "send Authorization: Bearer METRICS_TOKEN (or API_TOKEN)\n", 401


def _bearer_matches(token):
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())


def _local(target):
    """`target` when it is a path of this site ("/prs/..."), else "/": a `next` must not send
    a person to another site after signing in."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target.rstrip("?") if "\\" not in target else "/"


# -- CSRF ------------------------------------------------------------------------------------


def csrf_token():
    """This browser's form token (set as a cookie with the page)."""
    if "csrf" not in g:
        g.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    return g.csrf


def _set_csrf_cookie(response):
    if "csrf" in g and request.cookies.get(CSRF_COOKIE) != g.csrf:
        response.set_cookie(
            CSRF_COOKIE, g.csrf, httponly=True, samesite="Lax", secure=request.is_secure
        )
    return response


def _check_csrf():
    """Every form post of the dashboard must carry the form token; the API (bearer tokens, no
    cookies needed) and GitHub's deliveries are not forms."""
    if request.method != "POST" or request.path.startswith("/api/"):
        return None
    given, kept = request.form.get("csrf", ""), request.cookies.get(CSRF_COOKIE, "")
    if kept and hmac.compare_digest(given.encode(), kept.encode()):
        return None
    return render_template("form_expired.html"), 400


# -- sign in and out -------------------------------------------------------------------------


@bp.get("/login")
def login_form():
    """The sign-in page: API_TOKEN, and Sign in with GitHub when it is configured."""
    config = current_app.config["PRMONITOR"]
    return render_template(
        "login.html",
        next=_local(request.args.get("next")),
        github=config.github_sign_in,
        token=bool(config.api_token),
        error=None,
    )


@bp.post("/login")
def login():
    """Sign in with API_TOKEN: a session cookie for SESSION_DAYS."""
    config = current_app.config["PRMONITOR"]
    given = request.form.get("token", "")
    target = _local(request.form.get("next"))
    if not config.api_token or not hmac.compare_digest(given.encode(), config.api_token.encode()):
        page = render_template(
            "login.html",
            next=target,
            github=config.github_sign_in,
            token=bool(config.api_token),
            error="That is not the API_TOKEN.",
        )
        return page, 401
    start_session("API_TOKEN")
    return redirect(target, code=303)


def start_session(who, **fields):
    """A new session (never one a visitor brought along) for `who`."""
    session.clear()
    session.permanent = True
    session.update(who=who, **fields)


@bp.post("/logout")
def logout():
    """Forget this browser's session."""
    session.clear()
    return redirect("/login", code=303)
