"""The fake GitHub's answers about one repository: the repository, its pull requests, its
workflow runs, their attempts and jobs, and a job's log behind a signed URL."""

from werkzeug.wrappers import Response

from .http import json_response, not_found, paged, unprocessable
from .jobs import job_log


class RepoRoutes:
    """Route handlers reached with a token that may read the repository (`repo`, found)."""

    def _get_repo(self, exchange, repo):
        return json_response(200, repo)

    def _list_pulls(self, exchange, repo):
        state = exchange.request.args.get("state", "open")
        if state not in ("open", "closed", "all"):
            return unprocessable()
        prs = [pr for (n, _), pr in self.prs.items() if n == repo["full_name"]]
        prs = [pr for pr in prs if state in ("all", pr["state"])]
        prs.sort(key=lambda pr: (pr["created_at"], pr["id"]), reverse=True)
        # The list omits `merged`; only GET of one pull request has it.
        items = [{k: v for k, v in pr.items() if k != "merged"} for pr in prs]
        return paged(exchange.request, items, self.page_limit)

    def _get_pull(self, exchange, repo, number):
        pr = self.prs.get((repo["full_name"], int(number)))
        return json_response(200, pr) if pr else not_found()

    def _list_runs(self, exchange, repo):
        args = exchange.request.args
        runs = [r for r in self.runs.values() if r["full_name"] == repo["full_name"]]
        runs = [self._run_json(r, r["attempts"][-1]) for r in runs]
        runs = [r for r in runs if run_filter_matches(r, args)]
        runs.sort(key=lambda r: r["id"], reverse=True)

        def wrap(chunk):
            return {"total_count": len(runs), "workflow_runs": chunk}

        return paged(exchange.request, runs, self.page_limit, wrap)

    def _repo_run(self, repo, run_id):
        run = self.runs.get(int(run_id))
        return run if run and run["full_name"] == repo["full_name"] else None

    def _get_run(self, exchange, repo, run_id):
        run = self._repo_run(repo, run_id)
        return json_response(200, self._run_json(run, run["attempts"][-1])) if run else not_found()

    def _get_attempt(self, exchange, repo, run_id, attempt):
        run = self._repo_run(repo, run_id)
        if run is None or not 1 <= int(attempt) <= len(run["attempts"]):
            return not_found()
        return json_response(200, self._run_json(run, run["attempts"][int(attempt) - 1]))

    def _list_jobs(self, exchange, repo, run_id):
        run = self._repo_run(repo, run_id)
        if run is None:
            return not_found()
        which = exchange.request.args.get("filter", "latest")
        if which not in ("latest", "all"):
            return unprocessable()
        attempts = run["attempts"] if which == "all" else run["attempts"][-1:]
        jobs = [self.jobs[i] for attempt in attempts for i in attempt["job_ids"]]

        def wrap(chunk):
            return {"total_count": len(jobs), "jobs": chunk}

        return paged(exchange.request, jobs, self.page_limit, wrap)

    def _job_logs(self, exchange, repo, job_id):
        """A job's log is a redirect to a short-lived signed URL on another host:
        https://docs.github.com/en/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run"""
        job = self.jobs.get(int(job_id))
        if job is None or job["run_id"] not in self.runs:
            return not_found()
        location = f"{exchange.request.host_url}_blobs/job-logs/{job_id}?sig=fake-signature"
        return Response(status=302, headers={"Location": location})

    def _log_blob(self, exchange, job_id):
        # The storage behind the signed URL refuses a request that also carries a token.
        if exchange.request.headers.get("Authorization"):
            message = {"message": "Authentication information is not given correctly"}
            return json_response(400, message)
        job = self.jobs.get(int(job_id))
        if job is None:
            return not_found()
        text = self.job_logs.get(job["id"]) or job_log(job)
        return Response(text.encode(), content_type="text/plain")

    def _annotations(self, exchange, repo, check_run_id):
        """A job's id is its check run's id: the annotations problem matchers left on it.
        https://docs.github.com/en/rest/checks/runs#list-check-run-annotations"""
        job = self.jobs.get(int(check_run_id))
        if job is None or self.runs[job["run_id"]]["full_name"] != repo["full_name"]:
            return not_found()
        return json_response(200, self.job_annotations.get(job["id"], []))


def run_filter_matches(run, args):
    """GitHub's list filters; `status` takes a status or a conclusion."""
    if args.get("head_sha") and run["head_sha"] != args["head_sha"]:
        return False
    if args.get("event") and run["event"] != args["event"]:
        return False
    if args.get("branch") and run["head_branch"] != args["branch"]:
        return False
    status = args.get("status")
    return not status or status in (run["status"], run["conclusion"])
