"""One reconciliation pass over a repository: make the stored PRs, runs and jobs equal GitHub's.

Per repository, not per PR: one conditional call lists the open PRs, one lists the recent runs;
a PR whose head is not among those runs gets a conditional call for its head's runs; jobs are
read only for runs not yet final. Everything read goes through the webhook's parsers and guarded
upserts (ingest.py), so a poll racing a webhook cannot move a row backwards. A page's ETag is
saved only after its rows are committed: a pass cut short reads it in full next time.
"""

import datetime
import logging
from dataclasses import dataclass

from peewee import fn

from prmonitor.github import payloads
from prmonitor.github.client import NotFound
from prmonitor.storage import db, ingest
from prmonitor.storage.models import (
    EPOCH,
    FAILED_CONCLUSIONS,
    TRACKED,
    Pr,
    Workflow,
    true_first,
    utcnow,
)

log = logging.getLogger(__name__)

PER_PAGE = 100
# Kept of each run in the ETag store: what payloads.parse_run and pull_request_hints read.
RUN_KEYS = (
    "id",
    "name",
    "path",
    "run_attempt",
    "run_number",
    "status",
    "conclusion",
    "head_sha",
    "head_branch",
    "event",
    "html_url",
    "created_at",
    "updated_at",
    "run_started_at",
    "pull_requests",
)
# A closed PR whose runs never settle (a run waiting for an approval that never comes) stops
# being polled this long after it closed.
FINAL_PASS_LIMIT = datetime.timedelta(days=1)
PULL_KEYS = ("number", "state", "title", "html_url", "updated_at", "merged_at", "merged")


@dataclass(frozen=True)
class Target:
    """A repository to reconcile. `discover`: every open PR it has is tracked (the App is
    installed on it); otherwise only PRs already tracked (`prmonitor start`) are."""

    full_name: str
    repo_id: int | None
    installation_id: int | None
    discover: bool = True

    @property
    def repo(self):
        """The repository object the parsers expect."""
        return {"full_name": self.full_name, "id": self.repo_id}


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
        self._reopen_final_passes(target.full_name)
        prs = self._prs_to_reconcile(target, open_numbers)
        return self._reconcile_prs(target, prs, listed, covered)

    def reconcile_pr(self, target, number):
        """`prmonitor start`: the PR itself, its head's runs and their jobs, now."""
        self.deferred = 0
        pr = self._sync_pull(target, number, tracking="manual")
        return self._reconcile_prs(target, [pr], {}, set())

    def _reconcile_prs(self, target, prs, listed, covered):
        found = dict(listed)
        for pr in prs:
            self.heartbeat()
            if not pr.head_sha or self._covered(target, pr.head_sha, covered):
                continue
            if self._may_spend(target):
                found.update(self._sync_head_runs(target, pr.head_sha))
        runs = self._runs_needing_jobs([pr.id for pr in prs])
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
            tracked = None if target.discover else self._tracked_numbers(target)
            with db.writing():
                for row in sorted(rows, key=lambda r: r["head_sha"]):
                    if tracked is None or row["pr_number"] in tracked:
                        ingest.record_pull_request(row)
            for page in pages:
                self.etags.save(page, [_slim_pull(pull) for pull in page.body])
        return {pull["number"] for pull in pulls}

    def _pull_row(self, target, pull):
        return payloads.parse_pull_request(pull, target.repo, target.installation_id)

    def _sync_pull(self, target, number, tracking=None):
        """Read one PR (it closed, or it is started by hand) and store it; returns its row."""
        pull = self._get(target, f"pulls/{number}").body
        row = self._pull_row(target, pull)
        with db.writing():
            pr_id = ingest.record_pull_request(row)
            if tracking:
                Pr.update(tracking=tracking).where(Pr.id == pr_id).execute()
        return Pr.get_by_id(pr_id)

    def _tracked_numbers(self, target):
        query = Pr.select(Pr.pr_number).where(tracked_in(target.full_name))
        return {number for (number,) in query.tuples()}

    def _prs_to_reconcile(self, target, open_numbers):
        """Tracked PRs that are open, plus closed ones not reconciled since they closed (their
        one final pass). A PR stored as open that GitHub no longer lists has closed: read it."""
        tracked = Pr.select().where(tracked_in(target.full_name))
        chosen = []
        for pr in tracked:
            self.heartbeat()
            if pr.state == "open" and pr.pr_number not in open_numbers:
                if not self._may_spend(target):
                    continue
                pr = self._closed_pull(target, pr)
            if pr is not None and _due(pr):
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
            with db.writing():
                Pr.update(tracking="stopped").where(Pr.id == pr.id).execute()
            return None

    def _mark_reconciled(self, prs):
        """A closed PR's final pass is over once none of its runs is still running or unread
        (or a day after it closed). Open PRs are reconciled every pass and need no mark."""
        closed = [pr for pr in prs if pr.state != "open"]
        if self.deferred or not closed:
            return
        settled = set(self._prs_with_final_runs([pr.id for pr in closed]))
        cutoff = utcnow() - FINAL_PASS_LIMIT
        for pr in closed:
            if pr.id in settled or (pr.updated_at or EPOCH) < cutoff:
                with db.writing():
                    # Unless it changed meanwhile (reopened, pushed to): then it is due again.
                    Pr.update(reconciled_at=utcnow()).where(
                        (Pr.id == pr.id) & (Pr.state == pr.state) & (Pr.head_sha == pr.head_sha)
                    ).execute()

    def _reopen_final_passes(self, full_name):
        """A closed PR whose final pass is over is due once more when a run of it is no
        longer final: one that began after that pass, such as a workflow `on: pull_request:
        types: [closed]`, which starts as the PR closes. Within FINAL_PASS_LIMIT, as the pass.
        https://docs.github.com/en/actions/writing-workflows/choosing-when-your-workflow-runs/events-that-trigger-workflows#pull_request
        """
        closed = [
            pr_id
            for (pr_id,) in Pr.select(Pr.id)
            .where(
                tracked_in(full_name)
                & (Pr.state != "open")
                & Pr.reconciled_at.is_null(False)
                & (Pr.updated_at >= utcnow() - FINAL_PASS_LIMIT)
            )
            .tuples()
        ]
        if not closed:
            return
        unsettled = set(closed) - set(self._prs_with_final_runs(closed))
        if unsettled:
            with db.writing():
                Pr.update(reconciled_at=None).where(Pr.id.in_(unsettled)).execute()

    def _prs_with_final_runs(self, pr_ids):
        unsettled = {
            pr_id
            for (pr_id,) in Workflow.select(Workflow.pr)
            .where(Workflow.run_id.in_(self._runs_needing_jobs(pr_ids) or [0]))
            .tuples()
        }
        return [pr_id for pr_id in pr_ids if pr_id not in unsettled]

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
            self._forget_run(run_id)
            return False
        if not page.not_modified:
            with db.writing():
                self._record_run(target, page.body)
            self.etags.save(page, _slim_run(page.body))
        return True

    def _forget_run(self, run_id):
        with db.writing():
            Workflow.update(jobs_synced_at=utcnow()).where(Workflow.run_id == run_id).execute()

    def _store_runs(self, target, page):
        runs = page.body.get("workflow_runs") or []
        if not page.not_modified:
            with db.writing():
                # One commit at a time, in order: the same lock order as every other writer.
                for run in sorted(runs, key=lambda r: (str(r.get("head_sha")), r.get("id"))):
                    self._record_run(target, run)
            self.etags.save(page, {"workflow_runs": [_slim_run(run) for run in runs]})
        return {run["id"]: run for run in runs}

    def _record_run(self, target, run):
        row = payloads.parse_run(run, target.repo, target.installation_id)
        # A run's pull_requests would start tracking PRs nobody asked for in a repository
        # watched only for PRs started by hand.
        hints = payloads.pull_request_hints(run, target.repo_id) if target.discover else ()
        ingest.record_run(row, hints)

    def _runs_needing_jobs(self, pr_ids):
        """Run ids of these PRs whose latest attempt is not final: still running, or its jobs
        not read since it completed. Running ones first, then failed ones, newest first: the
        order they are read in when the budget cannot cover them all."""
        if not pr_ids:
            return []
        latest = (
            Workflow.select(Workflow.run_id, fn.MAX(Workflow.run_attempt).alias("attempt"))
            .where(Workflow.pr.in_(pr_ids))
            .group_by(Workflow.run_id)
        )
        query = (
            Workflow.select(Workflow.run_id)
            .join(
                latest,
                on=(Workflow.run_id == latest.c.run_id)
                & (Workflow.run_attempt == latest.c.attempt),
            )
            # Set only once an attempt completed and its jobs were read (or it was deleted).
            .where(Workflow.jobs_synced_at.is_null())
            .order_by(
                true_first(Workflow.status != "completed"),
                true_first(Workflow.conclusion.in_(FAILED_CONCLUSIONS)),
                Workflow.run_id.desc(),
            )
        )
        return [run_id for (run_id,) in query.tuples()]

    # -- jobs ------------------------------------------------------------------------------

    def _sync_jobs(self, target, run_id):
        """Every job of every attempt of a run (filter=all keeps earlier attempts' jobs)."""
        completed_before = self._completed_attempts(run_id)
        try:
            pages = self.github.get_pages(
                f"repos/{target.full_name}/actions/runs/{run_id}/jobs",
                {"filter": "all", "per_page": PER_PAGE},
                target.installation_id,
            )
        except NotFound:
            log.info("repo=%s run=%s is gone from GitHub", target.full_name, run_id)
            self._forget_run(run_id)
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
        stored = dict(
            Workflow.select(Workflow.run_attempt, Workflow.status)
            .where(Workflow.run_id == run_id)
            .tuples()
        )
        newest = max(stored, default=0)
        for attempt in sorted(attempts):
            if attempt < newest and stored.get(attempt) != "completed":
                self._sync_run(target, run_id, attempt)

    def _completed_attempts(self, run_id):
        query = Workflow.select(Workflow.run_attempt).where(
            (Workflow.run_id == run_id) & (Workflow.status == "completed")
        )
        return {attempt for (attempt,) in query.tuples()}

    def _mark_jobs_synced(self, run_id, jobs, completed_before):
        """Attempts final before their jobs were read, with every job read completed, are done.

        Only attempts already completed before the read count: a job that needs others is
        created once they finish, so a read made while the attempt ran may lack it."""
        unfinished = {
            job.get("run_attempt") or 1 for job in jobs if job.get("status") != "completed"
        }
        done = sorted(completed_before - unfinished)
        if not done:
            return
        with db.writing():
            Workflow.update(jobs_synced_at=utcnow()).where(
                (Workflow.run_id == run_id) & Workflow.run_attempt.in_(done)
            ).execute()


def tracked_in(full_name):
    """The condition for a repository's PRs that the poller tracks."""
    return (Pr.repo_full_name == full_name) & Pr.tracking.in_(TRACKED)


def _due(pr):
    """Open PRs are reconciled every pass; a closed one once more after it closed (store.upsert_pr
    clears reconciled_at when a PR's state or head changes)."""
    return pr.state == "open" or pr.reconciled_at is None


def _slim_run(run):
    return {key: run[key] for key in RUN_KEYS if key in run}


def _slim_pull(pull):
    slim = {key: pull[key] for key in PULL_KEYS if key in pull}
    slim["user"] = {"login": (pull.get("user") or {}).get("login")}
    slim["head"] = {key: (pull.get("head") or {}).get(key) for key in ("sha", "ref")}
    slim["base"] = {"ref": (pull.get("base") or {}).get("ref")}
    return slim
