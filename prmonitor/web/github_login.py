"""Sign in with GitHub: the App's user authorization web flow, then a session that sees only
the repositories the person's account can see through the App's installations.

GitHub is called here, in the request, where it cannot be helped: the sign-in itself (the
person waits for it), and at most every ACCESS_TTL seconds a refresh of what the account
sees (kept as it was when GitHub does not answer)."""

import datetime
import hmac
import logging
import secrets

from flask import Blueprint, abort, current_app, redirect, render_template, request, session

from prmonitor.github import user_access
from prmonitor.storage import sessions
from prmonitor.storage.models import utcnow
from prmonitor.web import auth

bp = Blueprint("github_login", __name__, template_folder="templates")
log = logging.getLogger(__name__)

# How long what an account can see is trusted before it is read from GitHub again: a person
# removed from a repository stops seeing its CI within this time.
ACCESS_TTL = datetime.timedelta(minutes=5)


def _config():
    config = current_app.config["PRMONITOR"]
    if not config.github_sign_in:
        abort(404)
    return config


def _callback_url():
    return f"{request.url_root}login/github/callback"


@bp.get("/login/github")
def start():
    """Send the browser to GitHub to ask the person; `state` ties the answer to this browser."""
    config = _config()
    state = secrets.token_urlsafe(24)
    session["oauth_state"] = state
    session["oauth_next"] = auth.local_path(request.args.get("next"))
    url = user_access.authorize_url(
        config.github_api_url, config.github_client_id, _callback_url(), state
    )
    return redirect(url)


@bp.get("/login/github/callback")
def callback():
    """GitHub's redirect back: the code becomes a token, the token a person and what they see."""
    config = _config()
    expected, given = session.pop("oauth_state", ""), request.args.get("state", "")
    target = session.pop("oauth_next", "/")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        return _failed("The sign-in expired or came from another browser: try again.")
    code = request.args.get("code", "")
    if not code or len(code) > 200:
        return _failed("GitHub sent no code: try again.")
    try:
        tokens = user_access.exchange_code(
            config.github_api_url,
            config.github_client_id,
            config.github_client_secret,
            code,
            _callback_url(),
        )
        github_id, login = user_access.whoami(config.github_api_url, tokens.access)
        repos = user_access.visible_repositories(config.github_api_url, tokens.access)
    except user_access.SignInFailed as exc:
        log.warning("github sign-in failed: %s", exc)
        return _failed(f"Signing in with GitHub failed: {exc}.")
    secret = sessions.create(github_id, login, tokens, repos, config.github_client_secret)
    auth.start_session(login, github=secret)
    log.info("signed in with github login=%s repositories=%d", login, len(repos))
    return redirect(target, code=303)


def _failed(message):
    page = render_template("login.html", next="/", github=True, token=None, error=message)
    return page, 400


def visible_for(secret, config, now=None):
    """The repositories a GitHub session may read (refreshed when older than ACCESS_TTL), or
    None when the session is gone, expired, or GitHub no longer accepts its token."""
    row = sessions.find(secret, now)
    if row is None:
        return None
    if (now or utcnow()) - row.fetched_at < ACCESS_TTL:
        return sessions.repos_of(row)
    try:
        repos = _read_access(row, config, now)
    except user_access.SignInFailed as exc:
        if exc.status == 401:
            sessions.end(secret)  # the person revoked the App's access, or it lapsed
            return None
        log.warning("github access not refreshed login=%s: %s", row.login, exc)
        return sessions.repos_of(row)
    sessions.refreshed(row, repos, now)
    return frozenset(repos)


def _read_access(row, config, now=None):
    """What the account sees now, with a new token first when this one has expired (or
    GitHub says so); SignInFailed with status 401 when no token works."""
    token = sessions.token_of(row, config.github_client_secret)
    expired = row.token_expires_at is not None and row.token_expires_at <= (now or utcnow())
    if token is not None and not expired:
        try:
            return user_access.visible_repositories(config.github_api_url, token)
        except user_access.SignInFailed as exc:
            if exc.status != 401:
                raise
    refresh = sessions.refresh_token_of(row, config.github_client_secret)
    if refresh is None:
        raise user_access.SignInFailed("the token expired and cannot be refreshed", 401)
    tokens = user_access.refresh(
        config.github_api_url, config.github_client_id, config.github_client_secret, refresh
    )
    sessions.new_tokens(row, tokens, config.github_client_secret)
    return user_access.visible_repositories(config.github_api_url, tokens.access)
