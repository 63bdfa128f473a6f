"""How the fake GitHub answers a request: its faults first, then the credential, the rate
limit and the route; every call recorded, and the fake's own errors kept for the test."""

import re
import time

from werkzeug.wrappers import Request

from .auth import Exchange, bad_credentials, bad_jwt
from .faults import fault_response
from .http import conditional, json_response, not_found

REPO = r"/repos/([^/]+/[^/]+)"
# (method, path regex, credential needed, handler): "jwt" the App's JWT, "installation" an
# installation token, "repo" an installation token of the repository's installation or a PAT.
ROUTES = [
    ("POST", r"/app/installations/(\d+)/access_tokens", "jwt", "_create_token"),
    ("GET", r"/app/installations", "jwt", "_list_installations"),
    ("GET", REPO + r"/installation", "jwt", "_get_repo_installation"),
    ("GET", r"/installation/repositories", "installation", "_list_installation_repos"),
    ("GET", REPO, "repo", "_get_repo"),
    ("GET", REPO + r"/pulls", "repo", "_list_pulls"),
    ("GET", REPO + r"/pulls/(\d+)", "repo", "_get_pull"),
    ("GET", REPO + r"/actions/runs", "repo", "_list_runs"),
    ("GET", REPO + r"/actions/runs/(\d+)", "repo", "_get_run"),
    ("GET", REPO + r"/actions/runs/(\d+)/attempts/(\d+)", "repo", "_get_attempt"),
    ("GET", REPO + r"/actions/runs/(\d+)/jobs", "repo", "_list_jobs"),
    ("GET", r"/app/hook/deliveries", "jwt", "_list_deliveries"),
    ("POST", r"/app/hook/deliveries/(\d+)/attempts", "jwt", "_redeliver"),
    ("POST", r"/app-manifests/([A-Za-z0-9]+)/conversions", "none", "_convert_manifest"),
    ("GET", REPO + r"/actions/jobs/(\d+)/logs", "repo", "_job_logs"),
    ("GET", r"/_blobs/job-logs/(\d+)", "none", "_log_blob"),
    ("GET", REPO + r"/check-runs/(\d+)/annotations", "repo", "_annotations"),
    ("GET", r"/app", "jwt", "_get_app"),
    ("GET", REPO + r"/pulls/(\d+)/files", "repo", "_list_pr_files"),
    ("GET", r"/user", "installation", "_get_user"),
    ("GET", r"/user/installations", "installation", "_user_installations"),
    ("GET", r"/user/installations/(\d+)/repositories", "installation", "_user_installation_repos"),
    ("GET", r"/login/oauth/authorize", "none", "_authorize"),
    ("POST", r"/login/oauth/access_token", "none", "_access_token"),
    ("GET", REPO + r"/issues/(\d+)/comments", "repo", "_list_comments"),
    ("POST", REPO + r"/issues/(\d+)/comments", "repo", "_create_comment"),
    ("PATCH", REPO + r"/issues/comments/(\d+)", "repo", "_edit_comment"),
    ("DELETE", REPO + r"/issues/comments/(\d+)", "repo", "_delete_comment"),
    ("POST", REPO + r"/check-runs", "repo", "_create_check_run"),
    ("PATCH", REPO + r"/check-runs/(\d+)", "repo", "_update_check_run"),
    ("GET", REPO + r"/commits/([0-9a-f]{40})/check-runs", "repo", "_list_check_runs"),
]


class Answers:
    """The WSGI app: `errors` keeps the exceptions raised while answering."""

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._answer(request)
        except Exception as exc:  # the fake's own bug: keep serving, and let the test see it
            self.errors.append(exc)
            response = json_response(500, {"message": f"fake GitHub failed: {exc!r}"})
        return response(environ, start_response)

    def _answer(self, request):
        fault = self._take_fault(request)
        if fault and fault.delay:
            time.sleep(fault.delay)
        exchange = Exchange(request)
        with self._lock:
            self._authenticate(exchange)
            response = self._respond(exchange, fault)
            self._account(exchange, response)
        for callback in exchange.after:
            callback()
        return response

    def _respond(self, exchange, fault):
        if fault and fault.status is not None:
            return fault_response(fault)
        if exchange.bucket and self._bucket(exchange.bucket)["remaining"] <= 0:
            return self._primary_limit(exchange)
        request = exchange.request
        for method, pattern, kind, name in ROUTES:
            match = re.fullmatch(pattern, request.path)
            if match and method == request.method:
                response = self._dispatch(exchange, kind, getattr(self, name), match.groups())
                return conditional(request, response, exchange.credential)
        return not_found()

    def _dispatch(self, exchange, kind, handler, groups):
        if kind == "none":
            return handler(exchange, *groups)
        if kind == "jwt":
            if not self._valid_jwt(exchange.credential):
                return bad_jwt()
            return handler(exchange, *groups)
        if exchange.bucket is None:
            return bad_credentials()
        if kind == "installation":
            return handler(exchange, *groups)
        repo = self._find_repo(groups[0])
        # GitHub hides what a token may not see: 404, not 403.
        if repo is None or not self._may_read(exchange, repo):
            return not_found()
        return handler(exchange, repo, *groups[1:])

    def _find_repo(self, full_name):
        # Owner and repository names are case-insensitive on GitHub.
        for name, repo in self.repos.items():
            if name.lower() == full_name.lower():
                return repo
        return None
