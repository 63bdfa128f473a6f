"""A person's side of the App: the web flow of a GitHub App's user authorization, and which
repositories their account can see through the App's installations.

https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
The OAuth endpoints live on GitHub's web host (github.com, or a GitHub Enterprise Server's
own host), the API calls on the API's; an App's user token sees only what both the App's
installations and the person may see.
https://docs.github.com/en/rest/apps/installations#list-app-installations-accessible-to-the-user-access-token
"""

import datetime
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit

import requests

from prmonitor.github.client import HEADERS
from prmonitor.storage.models import utcnow

TIMEOUT = 8  # seconds: a person waits for the page
MAX_PAGES = 20  # of 100: 2,000 installations or repositories per person at most


class SignInFailed(Exception):
    """GitHub did not give a token, or the person's data could not be read; `status` is
    GitHub's HTTP status when it answered."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def web_url(api_url):
    """GitHub's web address for an API base: https://github.com for https://api.github.com,
    and for GitHub Enterprise Server the API's host without its /api/v3."""
    parts = urlsplit(api_url)
    if parts.netloc == "api.github.com":
        return "https://github.com"
    return f"{parts.scheme}://{parts.netloc}"


def authorize_url(api_url, client_id, redirect_uri, state):
    """Where to send the browser: GitHub asks the person, then redirects to `redirect_uri`
    with a code and `state` (sent explicitly, so that GitHub checks it against the App's
    callback URLs)."""
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{web_url(api_url)}/login/oauth/authorize?{query}"


class Tokens(NamedTuple):
    """A user access token, and (when the App's user tokens expire, GitHub's default: after
    8 hours) the refresh token that gets the next one and when this one expires."""

    access: str
    refresh: str | None = None
    expires_at: datetime.datetime | None = None  # naive UTC


def exchange_code(api_url, client_id, client_secret, code, redirect_uri):
    """The user's tokens for the code GitHub gave the browser."""
    form = {"code": code, "redirect_uri": redirect_uri}
    return _token_request(api_url, client_id, client_secret, form)


def refresh(api_url, client_id, client_secret, refresh_token):
    """New tokens for an expired user token (each refresh token works once).
    https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
    """
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _token_request(api_url, client_id, client_secret, form)


def _token_request(api_url, client_id, client_secret, form):
    try:
        answer = requests.post(
            f"{web_url(api_url)}/login/oauth/access_token",
            data={"client_id": client_id, "client_secret": client_secret, **form},
            headers={"Accept": "application/json", "User-Agent": HEADERS["User-Agent"]},
            timeout=TIMEOUT,
        )
        body = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise SignInFailed(f"GitHub could not be reached ({type(exc).__name__})") from None
    # GitHub answers 200 with {"error": "bad_verification_code", ...} for a used code.
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        reason = body.get("error") if isinstance(body, dict) else None
        raise SignInFailed(f"GitHub gave no token ({reason or answer.status_code})", 401)
    lifetime = body.get("expires_in")
    expires_at = None
    if isinstance(lifetime, int) and not isinstance(lifetime, bool) and lifetime > 0:
        expires_at = utcnow() + datetime.timedelta(seconds=lifetime)
    refresh_token = body.get("refresh_token")
    return Tokens(
        body["access_token"], refresh_token if isinstance(refresh_token, str) else None, expires_at
    )


def whoami(api_url, token):
    """(id, login) of the token's person."""
    user = _get(f"{api_url}/user", token)
    if not isinstance(user.get("id"), int) or not isinstance(user.get("login"), str):
        raise SignInFailed("GitHub's /user has no id or login")
    return user["id"], user["login"]


def visible_repositories(api_url, token):
    """The full names of the repositories the person can see through the App's
    installations, sorted."""
    names = set()
    for page in _pages(f"{api_url}/user/installations", token):
        for installation in page.get("installations") or []:
            url = f"{api_url}/user/installations/{int(installation['id'])}/repositories"
            for listed in _pages(url, token):
                names.update(r["full_name"] for r in listed.get("repositories") or [])
    return sorted(names)


def _pages(url, token):
    url = f"{url}?per_page=100"
    for _ in range(MAX_PAGES):
        answer = _answer(url, token)
        yield _json(answer)
        url = answer.links.get("next", {}).get("url")
        if not url:
            return


def _get(url, token):
    return _json(_answer(url, token))


def _answer(url, token):
    try:
        answer = requests.get(
            url, headers={**HEADERS, "Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
    except requests.RequestException as exc:
        raise SignInFailed(f"GitHub could not be reached ({type(exc).__name__})") from None
    if answer.status_code != 200:
        path = urlsplit(url).path
        raise SignInFailed(f"GitHub answered {answer.status_code} for {path}", answer.status_code)
    return answer


def _json(answer):
    try:
        body = answer.json()
    except ValueError:
        raise SignInFailed("GitHub's answer is not JSON") from None
    if not isinstance(body, dict):
        raise SignInFailed("GitHub's answer is not an object")
    return body
