"""Who may read what. Machines send `Authorization: Bearer API_TOKEN` (or METRICS_TOKEN for
/metrics); people sign in on /login, with API_TOKEN or with GitHub, and carry a signed
session cookie (HttpOnly, SameSite=Lax, Secure behind https). Every form post here carries a
CSRF token. With neither API_TOKEN nor GitHub sign-in set, the dashboard and API are open
(and start-up warns when the server listens beyond this machine)."""

import datetime
import hashlib
import hmac
import secrets
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from prmonitor.storage import queries, sessions

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

    def open_session(self, app, request):
        # Most requests carry no session (GitHub's deliveries, machines' bearer calls): an
        # empty one, without parsing cookies or building the signing serializer.
        # The raw header, not request.cookies: werkzeug finds a header by reading them all.
        if app.config["SESSION_COOKIE_NAME"] not in request.environ.get("HTTP_COOKIE", ""):
            return self.session_class()
        return super().open_session(app, request)


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
    app.before_request(_require_access)
    app.before_request(_check_csrf)  # after: a post to the API on a session needs the token
    app.after_request(_set_csrf_cookie)
    app.add_template_global(csrf_token)
    app.add_template_global(signed_in)


def session_key(config):
    """The key that signs session cookies, derived from the deployment's secrets so that
    every worker agrees without another setting: API_TOKEN and the OAuth secret (changing
    either signs everyone out), with the webhook secrets and the App's key beside them, so
    that a short API_TOKEN cannot be guessed offline from a cookie's signature. Random when
    no sign-in is configured: no session is needed then."""
    if not access_required(config):
        return secrets.token_bytes(32)
    parts = (
        config.api_token,
        config.github_client_secret,
        *config.webhook_secrets,
        config.private_key,
    )
    material = "\0".join(part or "" for part in parts)
    return hmac.new(material.encode(), b"prmonitor session cookie", hashlib.sha256).digest()


def access_required(config):
    """Whether people and machines must show who they are."""
    return bool(config.api_token or config.github_sign_in)


def signed_in():
    """Who this browser signed in as (a GitHub login, or "API_TOKEN"), or None."""
    return g.get("who")


def visible_repos():
    """The repositories this request may read: None for all (API_TOKEN, or no sign-in
    configured), else a signed-in GitHub account's (a frozenset of full names)."""
    return g.get("visible")


def can_see(repo):
    """Whether this request may read the repository's PRs (by its full name, any case)."""
    visible = visible_repos()
    return visible is None or (repo or "").lower() in {name.lower() for name in visible}


def visible_pr(number, repo=None):
    """queries.resolve_pr as this request may see it: a PR of a repository it may not read is
    not tracked, and an ambiguous number names only the repositories it may read."""
    try:
        pr = queries.resolve_pr(number, repo)
    except queries.Ambiguous as exc:
        seen = [name for name in exc.repos if can_see(name)]
        if len(seen) > 1:
            raise queries.Ambiguous(seen) from None
        if not seen:
            raise queries.NotFound(f"pull request #{number} is not tracked") from None
        pr = queries.resolve_pr(number, seen[0])
    if not can_see(pr.repo_full_name):
        where = f" in {repo}" if repo else ""
        raise queries.NotFound(f"pull request #{number}{where} is not tracked")
    return pr


def require_operator():
    """For what spans every repository (the poller's status, the AI's stats, creating the
    App): API_TOKEN (bearer or session), or an open deployment; not a GitHub account, which
    sees its own repositories only. Returns an answer to refuse with, or None."""
    if visible_repos() is None:
        return None
    message = "this needs API_TOKEN: it covers every repository"
    if request.path.startswith("/api/"):
        return jsonify({"success": False, "error": message}), 403
    return message, 403


def _require_access():
    config = current_app.config["PRMONITOR"]
    g.visible = None
    if request.path == "/metrics":
        return _require_metrics_token(config)
    if not access_required(config):
        return None
    if _bearer_matches(config.api_token):
        g.bearer = True
        return None
    _load_session(config)
    if request.path.startswith(OPEN_PATHS) or signed_in():
        return None
    if request.path.startswith("/api/"):
        return jsonify({"success": False, "error": "sign in or send Authorization: Bearer"}), 401
    if request.method == "GET":
        return redirect(url_for("auth.login_form", next=_back_here()))
    return "Sign in first: /login", 401


def _back_here():
    """This page's path and query, for after signing in, without an old ?token= link's token
    (which would otherwise travel on in the address)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    return local_path(f"{request.path}?{urlencode(args, safe='/')}" if args else request.path)


def _load_session(config):
    """Who the session cookie says, checked: an API_TOKEN session, or a GitHub one whose row
    is live (then g.visible is what the account can see)."""
    who = session.get("who")
    if who == "API_TOKEN" and config.api_token:
        g.who = who
    elif session.get("github") and config.github_sign_in:
        from prmonitor.web import github_login  # it starts sessions with this module's help

        visible = github_login.visible_for(session["github"], config)
        if visible is not None:
            g.who, g.visible = who, visible


def _require_metrics_token(config):
    """METRICS_TOKEN or API_TOKEN; open only when nothing else asks for credentials (the
    metrics name every repository, so GitHub sign-in alone keeps them closed)."""
    tokens = [t for t in (config.metrics_token, config.api_token) if t]
    if any(_bearer_matches(t) for t in tokens):
        return None
    if not tokens and not access_required(config):
        return None
    return "send Authorization: Bearer METRICS_TOKEN (or API_TOKEN)\n", 401


def _bearer_matches(token):
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())


def local_path(target):
    """`target` when it is a path of this site ("/prs/..."), else "/": a `next` must not send
    a person to another site after signing in. Browsers drop tabs and newlines from a URL and
    read a backslash as a slash, so "/\t/evil.example" would be "//evil.example": any such
    character, or a scheme or host, makes it "/"."""
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2000:
        return "/"
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return "/"
    return target.rstrip("?")


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
    """Every form post of the dashboard must carry the form token. The API takes bearer
    tokens, which no other site can make a browser send; a post to it on a session cookie
    must carry the token in an X-CSRF-Token header. GitHub's deliveries are signed."""
    if request.method != "POST" or request.path.startswith("/api/github/webhooks"):
        return None
    if request.path.startswith("/api/"):
        if g.get("bearer") or not g.get("who"):
            return None  # a machine's token, or no sign-in configured at all
        given = request.headers.get("X-CSRF-Token", "")
        kept = request.cookies.get(CSRF_COOKIE, "")
        if kept and hmac.compare_digest(given.encode(), kept.encode()):
            return None
        return jsonify({"success": False, "error": "send the X-CSRF-Token header"}), 400
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
        next=local_path(request.args.get("next")),
        github=config.github_sign_in,
        token=bool(config.api_token),
        error=None,
    )


@bp.post("/login")
def login():
    """Sign in with API_TOKEN: a session cookie for SESSION_DAYS."""
    config = current_app.config["PRMONITOR"]
    given = request.form.get("token", "")
    target = local_path(request.form.get("next"))
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
    """Forget this browser's session (and a GitHub session's stored token)."""
    if session.get("github"):
        sessions.end(session["github"])
    session.clear()
    return redirect("/login", code=303)
