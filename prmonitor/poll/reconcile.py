"""One reconciliation pass over a repository: make the stored PRs, runs and jobs equal GitHub's.

Per repository, not per PR: one conditional call lists the open PRs, one lists the recent runs;
a PR whose head is not among those runs gets a conditional call for its head's runs; jobs are
read only for runs not yet final. Everything read goes through the webhook's parsers and guarded
upserts (ingest.py), so a poll racing a webhook cannot move a row backwards. A page's ETag is
saved only after its rows are committed: a pass cut short reads it in full next time.
"""

import logging

from prmonitor.github import NotFound, payloads
from prmonitor.poll import tracking
from prmonitor.storage import db, ingest

log = logging.getLogger(__name__)

PER_PAGE = 100


class Reconciler:
    """Reads through `github`, whose ETag store (github.etags) it saves pages to."""

    def __init__(self, github, interval=60.0, heartbeat=None):
        self.github, self.etags, self.interval = github, github.etags, interval
        # Called between runs: the poller renews its lease there (and stops if it was lost).
        self.heartbeat = heartbeat or (lambda: None)
        self.deferred = 0

    def _get(self, target, path, params=None):
        return self.github.get(f"repos/{target.full_name}/{path}", params, target.installation_id)

    def _may_spend(self, target):
        """Whether this cycle's share of the budget allows another optional read; counts the
        reads put off to a later cycle."""
        if self.github.may_spend(target.installation_id, self.interval):
            return True
        self.deferred += 1
        return False

    # -- a repository ----------------------------------------------------------------------

    def reconcile_repo(self, target):
        """One pass over a repository; returns what it did, as counts."""
        self.deferred = 0
        open_numbers = self._sync_open_pulls(target)
        # Runs first: a run's pull_requests can name a PR the open listing no longer shows.
        listed, covered = self._sync_recent_runs(target)
        tracking.reopen_final_passes(target.full_name)
        prs = self._prs_to_reconcile(target, open_numbers)
        return self._reconcile_prs(target, prs, listed, covered)

    def reconcile_pr(self, target, number):
        """`prmonitor start`: the PR itself, its head's runs and their jobs, now."""
        self.deferred = 0
        pr = self._sync_pull(target, number, tracked_as="manual")
        return self._reconcile_prs(target, [pr], {}, set())

    def _reconcile_prs(self, target, prs, listed, covered):
        found = dict(listed)
        for pr in prs:
            self.heartbeat()
            if not pr.head_sha or self._covered(target, pr.head_sha, covered):
                continue
            if self._may_spend(target):
                found.update(self._sync_head_runs(target, pr.head_sha))
        runs = tracking.runs_needing_jobs([pr.id for pr in prs])
        synced = 0
        for run_id in runs:
            self.heartbeat()
            if not self._may_spend(target):
                break  # the rest wait for the next cycle's share of the budget
            if run_id in found or self._sync_run(target, run_id):
                self._sync_jobs(target, run_id)
            synced += 1
        self.deferred += len(runs) - synced
        self._mark_reconciled(prs)
        return {"prs": len(prs), "runs_synced": synced, "runs_deferred": self.deferred}

    # -- pull requests ---------------------------------------------------------------------

    def _sync_open_pulls(self, target):
        """Store the repository's open PRs (all of them, or the tracked ones); their numbers."""
        params = {"state": "open", "per_page": PER_PAGE}
        pages = self.github.get_pages(
            f"repos/{target.full_name}/pulls", params, target.installation_id
        )
        pulls = [pull for page in pages for pull in page.body]
        if not all(page.not_modified for page in pages):
            rows = [self._pull_row(target, pull) for pull in pulls]
            tracked = None if target.discover else tracking.tracked_numbers(target.full_name)
            with db.writing():
                for row in sorted(rows, key=lambda r: r["head_sha"]):
                    if tracked is None or row["pr_number"] in tracked:
                        ingest.record_pull_request(row)
            for page in pages:
                self.etags.save(page, [payloads.slim_pull(pull) for pull in page.body])
        return {pull["number"] for pull in pulls}

    def _pull_row(self, target, pull):
        return payloads.parse_pull_request(pull, target.repo, target.installation_id)

    def _sync_pull(self, target, number, tracked_as=None):
        """Read one PR (it closed, or it is started by hand) and store it; returns its row."""
        pull = self._get(target, f"pulls/{number}").body
        row = self._pull_row(target, pull)
        with db.writing():
            pr_id = ingest.record_pull_request(row)
            if tracked_as:
                tracking.set_tracking(pr_id, tracked_as)
        return tracking.pr_by_id(pr_id)

    def _prs_to_reconcile(self, target, open_numbers):
        """Tracked PRs that are open, plus closed ones not reconciled since they closed (their
        one final pass). A PR stored as open that GitHub no longer lists has closed: read it."""
        chosen = []
        for pr in tracking.tracked_prs(target.full_name):
            self.heartbeat()
            if pr.state == "open" and pr.pr_number not in open_numbers:
                if not self._may_spend(target):
                    continue
                pr = self._closed_pull(target, pr)
            if pr is not None and tracking.is_due(pr):
                chosen.append(pr)
        return chosen

    def _closed_pull(self, target, pr):
        try:
            return self._sync_pull(target, pr.pr_number)
        except NotFound:
            # Deleted, or the repository became unreadable: keep its rows, stop polling it.
            log.info(
                "repo=%s pr=%s is gone from GitHub; no longer tracked",
                target.full_name,
                pr.pr_number,
            )
            tracking.stop_tracking(pr_id=pr.id)
            return None

    def _mark_reconciled(self, prs):
        """Closed PRs whose final pass this was (a pass cut short by the budget marks none)."""
        closed = [pr for pr in prs if pr.state != "open"]
        if closed and not self.deferred:
            tracking.mark_reconciled(closed)

    # -- runs ------------------------------------------------------------------------------

    def _sync_recent_runs(self, target):
        """The repository's newest runs (one page), stored when changed: ({run_id: run}, the
        head SHAs whose runs the page surely holds all of)."""
        page = self._get(target, "actions/runs", {"per_page": PER_PAGE})
        runs = self._store_runs(target, page)
        newest_first = page.body.get("workflow_runs") or []
        covered = {run.get("head_sha") for run in newest_first}
        if page.next_url and newest_first:
            # The oldest run shown may have older siblings of the same commit on later pages.
            covered.discard(newest_first[-1].get("head_sha"))
        return runs, covered

    def _covered(self, target, head_sha, covered):
        """Whether the recent runs hold every run of this commit: its runs are on the page, and
        its own listing was read once (a commit's runs need not sit together, say a workflow
        that runs when a label is added, days later)."""
        if head_sha not in covered:
            return False
        url = self._head_runs_url(target, head_sha)
        return self.etags.get(self.github.cache_key(url, target.installation_id)) is not None

    def _head_runs_url(self, target, head_sha):
        params = {"head_sha": head_sha, "per_page": PER_PAGE}
        return self.github.url(f"repos/{target.full_name}/actions/runs", params)

    def _sync_head_runs(self, target, head_sha):
        """Runs of one commit, for a PR whose head the recent runs did not reach."""
        pages = self.github.get_pages(
            f"repos/{target.full_name}/actions/runs",
            {"head_sha": head_sha, "per_page": PER_PAGE},
            target.installation_id,
        )
        found = {}
        for page in pages:
            found.update(self._store_runs(target, page))
        return found

    def _sync_run(self, target, run_id, attempt=None):
        """One run (or one attempt of it) that no listing showed; False when GitHub no longer
        has it (deleted runs are not asked about again)."""
        path = f"actions/runs/{run_id}" + (f"/attempts/{attempt}" if attempt else "")
        try:
            page = self._get(target, path)
        except NotFound:
            log.info("repo=%s run=%s is gone from GitHub", target.full_name, run_id)
            tracking.mark_jobs_synced(run_id)
            return False
        if not page.not_modified:
            with db.writing():
                self._record_run(target, page.body)
            self.etags.save(page, payloads.slim_run(page.body))
        return True

    def _store_runs(self, target, page):
        runs = page.body.get("workflow_runs") or []
        if not page.not_modified:
            with db.writing():
                # One commit at a time, in order: the same lock order as every other writer.
                for run in sorted(runs, key=lambda r: (str(r.get("head_sha")), r.get("id"))):
                    self._record_run(target, run)
            self.etags.save(page, {"workflow_runs": [payloads.slim_run(run) for run in runs]})
        return {run["id"]: run for run in runs}

    def _record_run(self, target, run):
        row = payloads.parse_run(run, target.repo, target.installation_id)
        # A run's pull_requests would start tracking PRs nobody asked for in a repository
        # watched only for PRs started by hand.
        hints = payloads.pull_request_hints(run, target.repo_id) if target.discover else ()
        ingest.record_run(row, hints)

    # -- jobs ------------------------------------------------------------------------------

    def _sync_jobs(self, target, run_id):
        """Every job of every attempt of a run (filter=all keeps earlier attempts' jobs)."""
        completed_before = tracking.completed_attempts(run_id)
        try:
            pages = self.github.get_pages(
                f"repos/{target.full_name}/actions/runs/{run_id}/jobs",
                {"filter": "all", "per_page": PER_PAGE},
                target.installation_id,
            )
        except NotFound:
            log.info("repo=%s run=%s is gone from GitHub", target.full_name, run_id)
            tracking.mark_jobs_synced(run_id)
            return
        jobs = [job for page in pages for job in page.body.get("jobs") or []]
        if not all(page.not_modified for page in pages):
            self._store_jobs(target, jobs)
        self._sync_earlier_attempts(target, run_id, jobs)
        self._mark_jobs_synced(run_id, jobs, completed_before)
        for page in pages:
            self.etags.save(page)

    def _store_jobs(self, target, jobs):
        rows = sorted(map(payloads.parse_job, jobs), key=lambda r: (r["head_sha"], r["job_id"]))
        placeholders = [
            payloads.run_placeholder(row, target.repo, target.installation_id) for row in rows
        ]
        with db.writing():
            ingest.record_jobs(zip(rows, placeholders, strict=True))

    def _sync_earlier_attempts(self, target, run_id, jobs):
        """An attempt known only from its jobs (a re-run's earlier attempts) is read once."""
        attempts = {job.get("run_attempt") or 1 for job in jobs}
        stored = tracking.attempt_statuses(run_id)
        newest = max(stored, default=0)
        for attempt in sorted(attempts):
            if attempt < newest and stored.get(attempt) != "completed":
                self._sync_run(target, run_id, attempt)

    def _mark_jobs_synced(self, run_id, jobs, completed_before):
        """Attempts final before their jobs were read, with every job read completed, are done.

        Only attempts already completed before the read count: a job that needs others is
        created once they finish, so a read made while the attempt ran may lack it."""
        unfinished = {
            job.get("run_attempt") or 1 for job in jobs if job.get("status") != "completed"
        }
        done = sorted(completed_before - unfinished)
        if done:
            tracking.mark_jobs_synced(run_id, done)
