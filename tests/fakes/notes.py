"""What prmonitor writes on GitHub, in the fake: comments on pull requests (the issues API),
check runs, and who the App is (GET /app) or the token's user (GET /user).

https://docs.github.com/en/rest/issues/comments and https://docs.github.com/en/rest/checks/runs
"""

import copy

from .http import DOCS, json_response, not_found, paged, unprocessable
from .world import API, WEB

APP_SLUG = "prmonitor"
NOT_ACCESSIBLE = "Resource not accessible by integration"


class Notes:
    """`comments[id]` every comment as the REST API serves it, `check_runs[id]` every check run."""

    def _init_notes(self):
        self.comments, self.check_runs, self.pr_files = {}, {}, {}
        self.personal_login = "octo-bot"

    # -- builders ---------------------------------------------------------------------------

    def add_comment(self, full_name, number, body, login="octocat", kind="User"):
        """A comment someone else wrote (another bot may copy prmonitor's marker)."""
        with self._lock:
            return self._new_comment(full_name, number, body, self._user(login, kind))

    def comments_on(self, full_name, number):
        with self._lock:
            return [c for c in self.comments.values() if c["_pr"] == (full_name, number)]

    def set_permission(self, installation_id, name, level):
        with self._lock:
            self.installations[installation_id]["permissions"][name] = level

    def _new_comment(self, full_name, number, body, user):
        comment_id = self._new_id("comment")
        now = self._tick()
        comment = {
            "id": comment_id,
            "html_url": f"{WEB}/{full_name}/pull/{number}#issuecomment-{comment_id}",
            "issue_url": f"{API}/repos/{full_name}/issues/{number}",
            "user": user,
            "body": body,
            "created_at": now,
            "updated_at": now,
            "_pr": (full_name, number),
        }
        self.comments[comment_id] = comment
        return _public(comment)

    def _writer(self, exchange):
        """Who a write is from: the App's bot for an installation token, else the PAT's user."""
        if exchange.auth == "installation":
            return self._user(f"{APP_SLUG}[bot]", "Bot")
        return self._user(self.personal_login)

    # -- routes -------------------------------------------------------------------------------

    def _get_app(self, exchange):
        app = {"id": self.app_id, "slug": APP_SLUG, "name": "prmonitor", "owner": None}
        return json_response(200, {**app, "html_url": f"{WEB}/apps/{APP_SLUG}"})

    def _get_user(self, exchange):
        if exchange.auth == "user":
            return json_response(200, self._user(self._user_tokens[exchange.credential]))
        if exchange.auth != "personal":
            return json_response(403, {"message": NOT_ACCESSIBLE, "documentation_url": DOCS})
        return json_response(200, self._user(self.personal_login))

    def _list_comments(self, exchange, repo, number):
        found = sorted(self.comments_on(repo["full_name"], int(number)), key=lambda c: c["id"])
        return paged(exchange.request, [_public(c) for c in found], self.page_limit)

    def _create_comment(self, exchange, repo, number):
        if (repo["full_name"], int(number)) not in self.prs:
            return not_found()
        body = _body(exchange)
        if not isinstance(body.get("body"), str) or len(body["body"]) > 65536:
            return unprocessable()
        comment = self._new_comment(
            repo["full_name"], int(number), body["body"], self._writer(exchange)
        )
        return json_response(201, comment)

    def _edit_comment(self, exchange, repo, comment_id):
        comment = self.comments.get(int(comment_id))
        if comment is None or comment["_pr"][0] != repo["full_name"]:
            return not_found()
        if comment["user"]["login"] != self._writer(exchange)["login"]:
            return json_response(403, {"message": NOT_ACCESSIBLE, "documentation_url": DOCS})
        body = _body(exchange)
        if not isinstance(body.get("body"), str):
            return unprocessable()
        comment.update(body=body["body"], updated_at=self._tick())
        return json_response(200, _public(comment))

    def _delete_comment(self, exchange, repo, comment_id):
        if self.comments.pop(int(comment_id), None) is None:
            return not_found()
        return json_response(204, {})

    def _create_check_run(self, exchange, repo):
        refused = self._checks_refused(exchange)
        if refused:
            return refused
        body = _body(exchange)
        if not body.get("name") or not body.get("head_sha"):
            return unprocessable()
        check_id = self._new_id("check_run")
        run = {**body, "id": check_id, "app": {"id": self.app_id, "slug": APP_SLUG}}
        run.update(_repo=repo["full_name"], started_at=self._tick())
        self.check_runs[check_id] = run
        return json_response(201, _public(run))

    def _update_check_run(self, exchange, repo, check_id):
        refused = self._checks_refused(exchange)
        if refused:
            return refused
        run = self.check_runs.get(int(check_id))
        if run is None or run["_repo"] != repo["full_name"]:
            return not_found()
        run.update({k: v for k, v in _body(exchange).items() if k not in ("id", "app")})
        return json_response(200, _public(run))

    def _list_check_runs(self, exchange, repo, ref):
        args = exchange.request.args
        runs = [r for r in self.check_runs.values() if r["_repo"] == repo["full_name"]]
        runs = [r for r in runs if r["head_sha"] == ref]
        if args.get("check_name"):
            runs = [r for r in runs if r["name"] == args["check_name"]]
        if args.get("app_id"):
            runs = [r for r in runs if str(r["app"]["id"]) == args["app_id"]]
        runs = [_public(r) for r in sorted(runs, key=lambda r: r["id"], reverse=True)]
        return paged(
            exchange.request,
            runs,
            self.page_limit,
            lambda c: {"total_count": len(runs), "check_runs": c},
        )

    def _checks_refused(self, exchange):
        """Check runs are written only by an App granted `checks: write`."""
        if exchange.auth != "installation":
            return json_response(
                403,
                {"message": "You must authenticate via a GitHub App.", "documentation_url": DOCS},
            )
        permissions = self.installations[exchange.installation_id]["permissions"]
        if permissions.get("checks") != "write":
            return json_response(403, {"message": NOT_ACCESSIBLE, "documentation_url": DOCS})
        return None


def _body(exchange):
    data = exchange.request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _public(item):
    return {k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("_")}
