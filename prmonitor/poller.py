"""The reconciliation loop (`prmonitor poll`): under the lease, every CHECK_INTERVAL, find the
repositories to reconcile, reconcile each, recover missed deliveries, and report the cycle."""

import logging
import threading
import time

from peewee import DatabaseError, InterfaceError, OperationalError

from . import db, lease, payloads, store
from .github import GitHub, GitHubError, NotFound, RateLimited
from .httpcache import EtagStore
from .models import TRACKED, Installation, Pr, Repository
from .reconcile import Reconciler, Target
from .redeliver import Recovery

log = logging.getLogger(__name__)

LEASE = lease.POLLER


class Poller:
    def __init__(self, github, interval=60.0, lease_ttl=None, holder=None, recover=None):
        self.github = github
        self.interval = interval
        # Long enough to outlive a slow cycle (the holder renews it between repositories),
        # short enough that a crashed holder is replaced within a few cycles.
        self.lease_ttl = lease_ttl or max(3 * interval, 120)
        self.holder = holder or lease.new_holder()
        self.reconciler = Reconciler(github, EtagStore(), interval)
        use_recovery = github.is_app if recover is None else recover
        self.recovery = Recovery(github) if use_recovery else None

    @classmethod
    def from_config(cls, config, **options):
        return cls(GitHub.from_config(config, etags=EtagStore()), config.check_interval, **options)

    # -- the loop ----------------------------------------------------------------------------

    def run_forever(self, stop=None):
        """Cycle every interval until `stop` (a threading.Event) is set; give the lease back."""
        stop = stop or threading.Event()
        try:
            while not stop.is_set():
                started = time.monotonic()
                self.run_once()
                stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            self.release()

    def run_once(self):
        """One cycle when this process holds the lease; its report, or None."""
        with db.database.connection_context():
            try:
                if not lease.acquire(LEASE, self.holder, self.lease_ttl):
                    log.info("poll skipped: another poller holds the lease")
                    return None
                report = self._cycle()
                lease.record_status(LEASE, self.holder, report)
            except (DatabaseError, InterfaceError) as exc:
                log.warning("poll cycle stopped: database error (%s)", db.describe(exc))
                return None
        log.info("poll cycle %s", " ".join(f"{k}={v}" for k, v in report.items()))
        return report

    def release(self):
        """Give the lease back (a clean stop), so another poller need not wait for it."""
        try:
            with db.database.connection_context():
                lease.release(LEASE, self.holder)
        except (DatabaseError, InterfaceError):
            pass  # it expires by itself

    # -- a cycle -----------------------------------------------------------------------------

    def _cycle(self):
        started = time.monotonic()
        self.github.stats.take()
        self.github.start_cycle()
        totals = {"repos": 0, "prs": 0, "runs_synced": 0, "runs_deferred": 0, "errors": 0}
        limited = set()
        for target in self._targets():
            if target.installation_id in limited:
                continue
            if not lease.acquire(LEASE, self.holder, self.lease_ttl):
                log.warning("poll cycle cut short: the lease was lost")
                break
            outcome = self._reconcile(target)
            if outcome == "rate_limited":
                limited.add(target.installation_id)
            _add(totals, outcome)
        totals["redelivered"] = self._recover()
        return {
            **totals,
            **self.github.stats.take(),
            "ms": round((time.monotonic() - started) * 1000),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def _reconcile(self, target):
        try:
            return self.reconciler.reconcile_repo(target)
        except RateLimited as exc:
            wait = max(0, round(exc.reset_at - time.time()))
            log.warning("repo=%s rate limited; resuming in %ss", target.full_name, wait)
            return "rate_limited"
        except (GitHubError, payloads.PayloadError) as exc:
            log.warning("repo=%s not reconciled: %s", target.full_name, exc)
            return "error"
        except OperationalError as exc:
            # A deadlock with a webhook's transaction, or a busy database: next cycle.
            log.warning("repo=%s not reconciled: database (%s)", target.full_name, db.describe(exc))
            return "error"

    def _recover(self):
        if self.recovery is None:
            return 0
        try:
            return self.recovery.run()
        except GitHubError as exc:
            log.warning("missed-delivery recovery skipped: %s", exc)
            return 0

    # -- what to reconcile -------------------------------------------------------------------

    def _targets(self):
        """Installed repositories (all their open PRs), then repositories of PRs started by
        hand (only those PRs)."""
        if self.github.is_app:
            self._refresh_installations()
        targets = [
            Target(full_name, repo_id, installation_id)
            for full_name, repo_id, installation_id in Repository.select(
                Repository.full_name, Repository.repo_id, Repository.installation_id
            )
            .where(Repository.active & Repository.installation_id.is_null(False))
            .order_by(Repository.full_name)
            .tuples()
        ]
        installed = {target.full_name for target in targets}
        return targets + self._manual_targets(installed)

    def _manual_targets(self, installed):
        query = (
            Pr.select(Pr.repo_full_name, Pr.repo_id, Pr.installation_id)
            .where(Pr.tracking.in_(TRACKED) & Pr.repo_full_name.not_in(installed or [""]))
            .distinct()
            .tuples()
        )
        if not self.github.is_app:
            return [Target(name, repo_id, None, False) for name, repo_id, _ in query]
        return [Target(name, repo_id, inst, False) for name, repo_id, inst in query if inst]

    def _refresh_installations(self):
        """The App's installations and their repositories, from GitHub (conditional calls, so
        nearly free), in case an installation event was missed."""
        try:
            pages = self.github.get_pages("app/installations", {"per_page": 100}, as_app=True)
            installations = [i for page in pages for i in page.body]
            for installation in installations:
                self._refresh_installation(installation)
            if not pages[-1].next_url:
                self._forget_uninstalled({i.get("id") for i in installations})
            for page in pages:
                self.reconciler.etags.save(page)
        except GitHubError as exc:
            log.warning("installations not refreshed: %s", exc)

    def _forget_uninstalled(self, listed):
        """Installations GitHub no longer lists were removed (their deletion event was lost)."""
        gone = [
            installation_id
            for (installation_id,) in Installation.select(Installation.installation_id)
            .where(Installation.state == "active")
            .tuples()
            if installation_id not in listed
        ]
        for installation_id in gone:
            with db.writing():
                Installation.update(state="deleted").where(
                    Installation.installation_id == installation_id
                ).execute()
                store.deactivate_installation_repositories(installation_id)

    def _refresh_installation(self, installation):
        row = payloads.parse_installation(installation)
        pages = self.github.get_pages(
            "installation/repositories", {"per_page": 100}, row["installation_id"]
        )
        if all(page.not_modified for page in pages):
            return
        repos = [repo for page in pages for repo in page.body.get("repositories") or []]
        rows = payloads.parse_repositories(repos, row["installation_id"])
        with db.writing():
            store.upsert_installation({**row, "state": "active"})
            store.deactivate_installation_repositories(row["installation_id"])
            store.set_repositories(rows, active=True)
        for page in pages:
            self.reconciler.etags.save(page)


def _add(totals, outcome):
    if isinstance(outcome, dict):
        totals["repos"] += 1
        for key, value in outcome.items():
            totals[key] = totals.get(key, 0) + value
    else:
        totals["errors"] += 1


def installation_for(github, full_name):
    """The App installation on a repository (for a PR started by hand), or None."""
    try:
        return github.get(f"repos/{full_name}/installation", as_app=True, conditional=False).body[
            "id"
        ]
    except NotFound:
        return None
