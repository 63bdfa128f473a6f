"""GitHub REST client (the transport): App JWT, installation-token cache, ETags, pagination,
retries, timeouts. The rate-limit budget it keeps is in budget.py, its errors in errors.py.

Every call prmonitor makes to GitHub goes through `GitHub.request`. GitHub's rules it follows:
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api and
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

import datetime
import logging
import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin

import jwt
import requests

from prmonitor import metrics
from prmonitor.github.budget import HORIZON, RESERVE, Budgets, Stats, is_rate_limited
from prmonitor.github.errors import GitHubError, Unavailable, checked

log = logging.getLogger(__name__)

HEADERS = {
    "Accept": "application/vnd.github+json",
    "User-Agent": "prmonitor (+https://github.com/apps)",
    "X-GitHub-Api-Version": "2022-11-28",
}
# An installation token lives one hour; a new one is minted this long before it expires.
TOKEN_MARGIN = 300


def app_jwt(app_id, private_key, now=None):
    """The App's JWT: RS256, issued 60 s in the past against clock drift, valid for 9 minutes.

    https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
    PyJWT >= 2.11 refuses an integer `iss`: the App id goes as a string.
    """
    now = int(time.time() if now is None else now)
    claims = {"iat": now - 60, "exp": now + 540, "iss": str(app_id)}
    return jwt.encode(claims, private_key, algorithm="RS256")


@dataclass
class Page:
    """One answer: its JSON body (the stored one after a 304), ETag and next-page link."""

    url: str
    body: object
    etag: str | None = None
    not_modified: bool = False
    next_url: str | None = None
    key: str | None = None  # what httpcache files it under (GitHub.cache_key); None: the URL

    @property
    def cache_key(self):
        """What the ETag store files this page under."""
        return self.key or self.url


class GitHub:
    """A client for one GitHub (github.com or an Enterprise Server), authenticated as the App
    (`app_id` and `private_key`) or with a personal/Actions `token`.

    `etags.get(key)` gives the Page stored under a cache_key, or None (see httpcache); the
    caller stores a page once it has used it, so a page whose handling failed is fetched again
    in full.
    """

    def __init__(
        self,
        api_url="https://api.github.com",
        app_id=None,
        private_key=None,
        token=None,
        etags=None,
        timeout=(5, 30),
        attempts=4,
        backoff=1.0,
        sleep=time.sleep,
    ):
        if not (token or (app_id and private_key)):
            raise ValueError("GitHub needs App credentials or a token")
        self.api_url = api_url.rstrip("/") + "/"
        self.app_id, self._private_key, self._token = app_id, private_key, token
        self.etags = etags
        self.timeout, self.attempts, self.backoff, self._sleep = timeout, attempts, backoff, sleep
        self.stats = Stats()
        self._session = requests.Session()
        self._session.headers.update(HEADERS)
        self._tokens = {}  # installation id -> (token, expires_at epoch)
        self._app_jwt = None  # (jwt, expires_at epoch)
        self._token_lock = threading.RLock()
        self.budgets = Budgets(self.stats, sleep, attempts)

    @classmethod
    def from_config(cls, config, **options):
        """The client the configuration names (GITHUB_API_URL, and App id and key or token)."""
        return cls(
            config.github_api_url,
            app_id=config.app_id,
            private_key=config.private_key,
            token=config.github_token,
            **options,
        )

    @property
    def is_app(self):
        """Whether this client can authenticate as the App (and so as its installations)."""
        return bool(self.app_id and self._private_key)

    def close(self):
        """Close the connection pool."""
        self._session.close()

    # -- calls ---------------------------------------------------------------------------------

    def get(self, path, params=None, installation=None, as_app=False, conditional=True):
        """GET one page as `installation` (or with the token, or `as_app` with the JWT); with
        `conditional`, send the stored ETag and take the stored body on a 304."""
        url = self.url(path, params)
        key = self.cache_key(url, installation)
        stored = self.etags.get(key) if (conditional and self.etags) else None
        headers = {"If-None-Match": stored.etag} if stored else {}
        response = self.request("GET", url, installation, as_app, headers)
        if response.status_code == 304 and stored:
            # A 304 need not carry the Link header: the next page is the one stored.
            return Page(url, stored.body, stored.etag, True, stored.next_url, key)
        etag, next_url = response.headers.get("ETag"), _next_url(response)
        return Page(url, _json(response), etag, False, next_url, key)

    @staticmethod
    def cache_key(url, installation=None):
        """What an answer is stored under: its URL, and the installation that asked, since
        some answers depend on who asks (GET /installation/repositories lists the asking
        installation's repositories, at the same URL for every installation)."""
        return f"installation {installation}: {url}" if installation else url

    def get_pages(self, path, params=None, installation=None, as_app=False, limit=10):
        """Every page of a listing, following GitHub's Link headers (at most `limit` pages)."""
        pages = [self.get(path, params, installation, as_app)]
        while pages[-1].next_url and len(pages) < limit:
            pages.append(self.get(pages[-1].next_url, None, installation, as_app))
        return pages

    def post(self, path, body=None, installation=None, as_app=False):
        """POST `body` as JSON; the answer's JSON, or None when it has no body."""
        response = self.request("POST", self.url(path), installation, as_app, {}, body)
        return _json(response) if response.content else None

    def patch(self, path, body=None, installation=None):
        """PATCH `body` as JSON as `installation`; the answer's JSON, or None."""
        response = self.request("PATCH", self.url(path), installation, False, {}, body)
        return _json(response) if response.content else None

    def url(self, path, params=None):
        """The absolute URL of an API path (a full URL is kept as it is), with `params`."""
        url = path if "://" in path else urljoin(self.api_url, path.lstrip("/"))
        return f"{url}?{urlencode(params)}" if params else url

    def request(
        self, method, url, installation=None, as_app=False, headers=None, body=None, redirect=True
    ):
        """One call with retries: connection errors and 5xx back off and retry, a secondary
        rate limit is waited out, an expired installation token is replaced once."""
        bucket = "app" if as_app else (installation or "token")
        options = {"json": body, "timeout": self.timeout, "allow_redirects": redirect}
        renewed, limited = False, 0
        for attempt in range(1, self.attempts + 1):
            self.budgets.check(bucket)
            sent = {**(headers or {}), "Authorization": self._authorization(installation, as_app)}
            try:
                response = self._session.request(method, url, headers=sent, **options)
            except requests.RequestException as exc:
                metrics.github_call(None)
                self._retry_or_raise(attempt, f"{method} {_path(url)}: {type(exc).__name__}")
                continue
            metrics.github_call(response.status_code)
            self.budgets.account(bucket, response, as_app)
            if response.status_code >= 500:
                self._retry_or_raise(attempt, f"{method} {_path(url)}: {response.status_code}")
                continue
            if response.status_code == 401 and installation and not renewed:
                # The token may have expired or been revoked early: mint a new one, once.
                self.forget_token(installation)
                renewed = True
                continue
            if is_rate_limited(response):
                limited += 1
                metrics.rate_limit_wait()
                self.budgets.wait_out(response, bucket, limited)
                continue
            return checked(response, f"{method} {_path(url)}")
        raise Unavailable(f"{method} {_path(url)}: no answer after {self.attempts} tries")

    def _retry_or_raise(self, attempt, what):
        if attempt >= self.attempts:
            raise Unavailable(f"{what} after {attempt} tries")
        self.stats.add(retries=1)
        delay = self.backoff * 2 ** (attempt - 1) * (0.5 + random.random() / 2)
        log.info("github retry=%d in=%.1fs %s", attempt, delay, what)
        self._sleep(delay)

    # -- rate limits (budget.py) -------------------------------------------------------------

    def start_cycle(self):
        """A poll cycle begins: may_spend measures this cycle's spending from here."""
        self.budgets.start_cycle()

    def may_spend(self, installation, interval, reserve=RESERVE, horizon=HORIZON):
        """Whether the poller may make more optional calls this cycle (Budgets.may_spend)."""
        return self.budgets.may_spend(installation, interval, reserve, horizon)

    # -- authentication ------------------------------------------------------------------------

    def _authorization(self, installation, as_app):
        if as_app:
            return f"Bearer {self._jwt()}"
        if installation and self.is_app:
            return f"token {self.installation_token(installation)}"
        if self._token:
            return f"token {self._token}"
        raise GitHubError("an installation id is needed to call GitHub as the App")

    def _jwt(self):
        """The App's JWT, reused while it has more than a minute left: GitHub's ETags are
        specific to the credential, so a new JWT per call would never get a 304."""
        if not self.is_app:
            raise GitHubError("this call needs App credentials (APP_ID and PRIVATE_KEY)")
        with self._token_lock:
            now = time.time()
            if self._app_jwt is None or self._app_jwt[1] - 60 < now:
                self._app_jwt = (app_jwt(self.app_id, self._private_key, now), now + 540)
            return self._app_jwt[0]

    def installation_token(self, installation):
        """A cached installation token, minted again a few minutes before it expires.

        https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app
        """
        with self._token_lock:
            cached = self._tokens.get(installation)
            if cached and cached[1] - TOKEN_MARGIN > time.time():
                return cached[0]
            answer = self.post(f"app/installations/{installation}/access_tokens", as_app=True)
            token, expires_at = answer["token"], _epoch(answer.get("expires_at"))
            self._tokens[installation] = (token, expires_at)
            log.info("github installation=%s token minted", installation)
            return token

    def forget_token(self, installation):
        """Drop the cached token of an installation: the next call mints a new one."""
        with self._token_lock:
            self._tokens.pop(installation, None)


def _json(response):
    try:
        return response.json()
    except ValueError:
        status = response.status_code
        raise GitHubError(f"{_path(response.url)}: the answer is not JSON", status) from None


def _next_url(response):
    return response.links.get("next", {}).get("url")


def _path(url):
    """The URL without scheme and host, for log lines and errors."""
    return url.split("://", 1)[-1].partition("/")[2].partition("?")[0]


def _epoch(iso):
    """GitHub's ISO 8601 time as epoch seconds; an hour from now when absent or unreadable."""
    try:
        return datetime.datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return time.time() + 3600
