"""The reconciliation loop (`prmonitor poll`): under the lease, every CHECK_INTERVAL, find the
repositories to reconcile, reconcile each, recover missed deliveries, and report the cycle."""

import logging
import threading
import time

from peewee import DatabaseError, InterfaceError, OperationalError

from prmonitor import metrics
from prmonitor.github import GitHub, GitHubError, NotFound, RateLimited, payloads
from prmonitor.poll.etags import EtagStore
from prmonitor.poll.reconcile import Reconciler
from prmonitor.poll.redeliver import Recovery
from prmonitor.poll.targets import Targets
from prmonitor.storage import db, deliveries, lease, sessions

log = logging.getLogger(__name__)

LEASE = lease.POLLER
PRUNE_EVERY = 100  # cycles between prunings of the ETag store


class LeaseLost(Exception):
    """Another process took the lease: this one stops working at once."""


class Stopping(Exception):
    """The process is stopping (SIGTERM, Ctrl-C): the cycle ends between two calls."""


def interruptible_sleep(stop):
    """A sleep for the GitHub client's backoff that ends, raising Stopping, once `stop` is set:
    Heroku kills a dyno 30 s after SIGTERM, before a lease could be given back."""

    def sleep(seconds):
        if stop.wait(seconds):
            raise Stopping()

    return sleep


class Poller:
    """The worker's loop: reconcile every target and recover missed deliveries, under the lease."""

    def __init__(
        self,
        github,
        interval=60.0,
        lease_ttl=None,
        holder=None,
        recover=None,
        stop=None,
        retention_days=14,
    ):
        self.github = github
        self.retention_days = retention_days
        self.stop = stop or threading.Event()
        self.interval = interval
        # Long enough to outlive a slow stretch between renewals (the holder renews it between
        # runs), short enough that a crashed holder is replaced within a few cycles.
        self.lease_ttl = lease_ttl or max(3 * interval, 120)
        self.holder = holder or lease.new_holder()
        # The poller saves what it read: a client made without an ETag store gets one.
        github.etags = github.etags or EtagStore()
        self.reconciler = Reconciler(github, interval, heartbeat=self._heartbeat)
        self.targets = Targets(github)
        use_recovery = github.is_app if recover is None else recover
        self.recovery = Recovery(github, heartbeat=self._heartbeat) if use_recovery else None
        self.cycles = 0
        self._renewed = 0.0

    @classmethod
    def from_config(cls, config, stop=None, **options):
        """A poller with a GitHub client for the configured credentials; setting `stop` ends
        its cycle between two calls, its backoff sleeps included."""
        sleep = interruptible_sleep(stop) if stop else time.sleep
        github = GitHub.from_config(config, etags=EtagStore(), sleep=sleep)
        options.setdefault("retention_days", config.delivery_retention_days)
        return cls(github, config.check_interval, stop=stop, **options)

    # -- the loop ----------------------------------------------------------------------------

    def run_forever(self, stop=None):
        """Cycle every interval until `stop` (a threading.Event) is set; give the lease back.
        Nothing a cycle raises ends the loop: the worker must outlive any one bad answer."""
        stop = self.stop = stop or self.stop
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    self.run_once()
                except (DatabaseError, InterfaceError) as exc:
                    log.warning("poll cycle stopped: database error (%s)", db.describe(exc))
                except Exception:
                    log.exception("poll cycle failed; trying again next cycle")
                stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            self.release()

    def run_once(self):
        """One cycle when this process holds the lease; its report, or None when another
        process holds it. Database errors are raised."""
        with db.database.connection_context():
            if not self._renew():
                log.info("poll skipped: another poller holds the lease")
                return None
            started = time.monotonic()
            report = self._cycle()
            metrics.poll_cycle(time.monotonic() - started)
            lease.record_status(LEASE, self.holder, report)
        log.info("poll cycle %s", _key_values(report))
        return report

    def release(self):
        """Give the lease back (a clean stop), so another poller need not wait for it."""
        try:
            with db.database.connection_context():
                lease.release(LEASE, self.holder)
        except (DatabaseError, InterfaceError):
            pass  # it expires by itself

    # -- the lease ---------------------------------------------------------------------------

    def _renew(self):
        held = lease.acquire(LEASE, self.holder, self.lease_ttl)
        self._renewed = time.monotonic()
        return held

    def _heartbeat(self):
        """Between runs: stop when asked to; renew the lease once a third of its time has
        passed; stop if it was lost."""
        if self.stop.is_set():
            raise Stopping()
        if time.monotonic() - self._renewed < self.lease_ttl / 3:
            return
        if not self._renew():
            raise LeaseLost()

    # -- a cycle -----------------------------------------------------------------------------

    def _cycle(self):
        started = time.monotonic()
        self.github.stats.take()
        self.github.start_cycle()
        totals = {"repos": 0, "prs": 0, "runs_synced": 0, "runs_deferred": 0, "errors": 0}
        try:
            self._reconcile_all(totals)
            totals["redelivered"] = self._recover(totals)
        except LeaseLost:
            log.warning("poll cycle cut short: another poller took the lease")
            totals["lease_lost"] = 1
        except Stopping:
            log.info("poll cycle cut short: stopping")
            totals["stopped"] = 1
        self._prune()
        return {
            **totals,
            **self.github.stats.take(),
            "ms": round((time.monotonic() - started) * 1000),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def _reconcile_all(self, totals):
        limited = set()
        targets = self.targets.all()
        if self.targets.refresh_error:
            _problem(totals, f"installations not refreshed: {self.targets.refresh_error}")
        for target in targets:
            if target.installation_id in limited:
                continue
            self._heartbeat()
            outcome = self._reconcile(target)
            if outcome == "rate_limited":
                limited.add(target.installation_id)
            _add(totals, outcome)

    def _reconcile(self, target):
        try:
            return self.reconciler.reconcile_repo(target)
        except RateLimited as exc:
            wait = max(0, round(exc.reset_at - time.time()))
            log.warning("repo=%s rate limited; resuming in %ss", target.full_name, wait)
            return "rate_limited"
        except NotFound as exc:
            log.warning("repo=%s not reconciled: %s", target.full_name, exc)
            if target.discover:
                self.targets.deactivate(target)
            else:
                self.targets.stop_tracking(target)
            return "error"
        except (GitHubError, payloads.PayloadError) as exc:
            log.warning("repo=%s not reconciled: %s", target.full_name, exc)
            return "error"
        except OperationalError as exc:
            # A deadlock with a webhook's transaction, or a busy database: next cycle.
            log.warning("repo=%s not reconciled: database (%s)", target.full_name, db.describe(exc))
            return "error"

    def _recover(self, totals):
        if self.recovery is None:
            return 0
        self._heartbeat()
        try:
            return self.recovery.run()
        except GitHubError as exc:
            log.warning("missed-delivery recovery skipped: %s", exc)
            _problem(totals, f"missed-delivery recovery skipped: {exc}")
            return 0

    def _prune(self):
        """Old deliveries every cycle, a few batches at a time; the ETag store and expired
        dashboard sessions now and then."""
        self.cycles += 1
        pruned = deliveries.prune(self.retention_days)
        if pruned:
            log.info("deliveries pruned rows=%d", pruned)
        if self.cycles % PRUNE_EVERY == 1:
            sessions.prune()
            pruned = self.github.etags.prune()
            if pruned:
                log.info("http cache pruned entries=%d", pruned)


def _key_values(report):
    return " ".join(f"{k}={v!r}" if k == "problem" else f"{k}={v}" for k, v in report.items())


def _add(totals, outcome):
    if isinstance(outcome, dict):
        totals["repos"] += 1
        for key, value in outcome.items():
            totals[key] = totals.get(key, 0) + value
    else:
        totals["errors"] += 1


def _problem(totals, reason):
    """A failure of the cycle's own steps: counted with the repositories' errors, and the last
    one kept in words for /api/status."""
    totals["errors"] += 1
    totals["problem"] = reason[:200]
