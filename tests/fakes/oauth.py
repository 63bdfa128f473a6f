"""The fake GitHub's side of "Sign in with GitHub": the web flow of a GitHub App's user
authorization on the web host, and the user token's view of the App's installations.

https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
https://docs.github.com/en/rest/apps/installations#list-app-installations-accessible-to-the-user-access-token
"""

import secrets
from urllib.parse import urlencode

from werkzeug.utils import redirect

from .http import json_response, not_found, paged

CLIENT_ID = "Iv1.fakeclientid0001"
CLIENT_SECRET = "fake-oauth-client-secret"


class OAuth:
    """`people[login]` is the set of repositories (full names) that person may read; the
    browser that opens /login/oauth/authorize is signed in to GitHub as `signed_in_as`."""

    def _init_oauth(self):
        self.people, self.signed_in_as = {}, None
        self.oauth_codes, self._user_tokens = {}, {}  # code -> (login, redirect_uri)
        self._refresh_tokens = {}  # refresh token -> login; each works once
        self.oauth_requests = []  # the query of each authorize request

    def add_person(self, login, repos):
        with self._lock:
            self._user(login)
            self.people[login] = set(repos)

    def revoke_user_tokens(self, login):
        """The person revoked the App's authorization: no token of theirs works."""
        with self._lock:
            self.expire_user_tokens(login)
            for token in [t for t, who in self._refresh_tokens.items() if who == login]:
                del self._refresh_tokens[token]

    def expire_user_tokens(self, login):
        """Their user tokens expired (after 8 hours on GitHub); refresh tokens still work."""
        with self._lock:
            for token in [t for t, who in self._user_tokens.items() if who == login]:
                del self._user_tokens[token]

    def _authorize(self, exchange):
        """GitHub asks the person and, on "Authorize", redirects with a code and the state."""
        args = exchange.request.args
        self.oauth_requests.append(dict(args))
        if args.get("client_id") != CLIENT_ID or not args.get("redirect_uri"):
            return json_response(404, {"message": "Not Found"})
        code = secrets.token_hex(10)
        self.oauth_codes[code] = (self.signed_in_as, args["redirect_uri"])
        query = urlencode({"code": code, "state": args.get("state", "")})
        return redirect(f"{args['redirect_uri']}?{query}")

    def _access_token(self, exchange):
        """A code (or a refresh token) works once, with the App's id and secret (and for a
        code the same redirect_uri); GitHub answers a bad one with 200 and an error field.
        Tokens expire, as GitHub's do by default: an 8-hour token and a refresh token."""
        form = exchange.request.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return json_response(200, {"error": "incorrect_client_credentials"})
        if form.get("grant_type") == "refresh_token":
            login = self._refresh_tokens.pop(form.get("refresh_token", ""), None)
            if login is None:
                return json_response(200, {"error": "bad_refresh_token"})
        else:
            login, redirect_uri = self.oauth_codes.pop(form.get("code", ""), (None, None))
            if login is None or form.get("redirect_uri") != redirect_uri:
                return json_response(200, {"error": "bad_verification_code"})
        token, refresh = "ghu_" + secrets.token_hex(18), "ghr_" + secrets.token_hex(30)
        self._user_tokens[token], self._refresh_tokens[refresh] = login, login
        body = {
            "access_token": token,
            "expires_in": 28800,
            "refresh_token": refresh,
            "refresh_token_expires_in": 15897600,
            "token_type": "bearer",
            "scope": "",
        }
        return json_response(200, body)

    def _person_repos(self, exchange):
        login = self._user_tokens.get(exchange.credential)
        return {name for name in self.people.get(login, ()) if name in self.repos}

    def _user_installations(self, exchange):
        if exchange.auth != "user":
            return json_response(403, {"message": "Resource not accessible by integration"})
        seen = {self._repo_installation[name] for name in self._person_repos(exchange)}
        items = [self.installations[i] for i in sorted(seen)]

        def wrap(chunk):
            return {"total_count": len(items), "installations": chunk}

        return paged(exchange.request, items, self.page_limit, wrap)

    def _user_installation_repos(self, exchange, installation_id):
        if exchange.auth != "user":
            return json_response(403, {"message": "Resource not accessible by integration"})
        names = sorted(
            name
            for name in self._person_repos(exchange)
            if self._repo_installation[name] == int(installation_id)
        )
        if not names:
            return not_found()
        repos = [self.repos[name] for name in names]

        def wrap(chunk):
            return {"total_count": len(repos), "repositories": chunk}

        return paged(exchange.request, repos, self.page_limit, wrap)
