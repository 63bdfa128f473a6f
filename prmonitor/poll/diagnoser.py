"""The worker's diagnosis loop: every second, claim the due diagnosis tasks and run them; now and
then, reclassify recent failures whose evidence may have arrived since (a re-run passed, a
base-branch run failed the same way). A thread of `prmonitor poll`, beside the poller and
independent of CHECK_INTERVAL, with a GitHub client of its own."""

import logging
import threading
import time

from peewee import DatabaseError, InterfaceError

from prmonitor.failures import classify
from prmonitor.failures.diagnose import Diagnoser
from prmonitor.github import GitHub
from prmonitor.poll import loop
from prmonitor.poll.poller import Stopping, interruptible_sleep
from prmonitor.storage import db, lease, tasks

log = logging.getLogger(__name__)

EVERY = 1.0  # seconds between looks at the queue: a task is claimed within about that
BATCH = 1  # tasks per claim: each claimed just before it runs, so no claim waits to expire
RECLASSIFY_EVERY = 15.0  # seconds


class DiagnosisLoop:
    """Claims and runs due tasks until `stop` is set."""

    def __init__(self, diagnoser, stop, holder=None, every=EVERY):
        self.diagnoser = diagnoser
        self.stop = stop
        self.holder = holder or lease.new_holder()
        self.every = every
        self._reclassified = 0.0

    @classmethod
    def from_config(cls, config, stop, **options):
        github = GitHub.from_config(config, sleep=interruptible_sleep(stop))
        limits = config if config.anthropic_api_key else None
        return cls(Diagnoser(github, config.log_max_bytes, limits), stop, **options)

    def run_forever(self):
        """Until stopped; nothing a pass raises ends the loop (poll.loop)."""
        loop.run_forever(self.step, self.stop, self.every, "diagnosis")

    def step(self):
        """One look at the queue; whether a full batch was claimed (more may be due)."""
        claimed = self.run_due()
        self._reclassify_now_and_then()
        return claimed >= BATCH

    def run_due(self, limit=BATCH):
        """Claim up to `limit` due tasks and run each; how many were claimed."""
        if not tasks.has_due():
            return 0
        claimed = tasks.claim(self.holder, limit)
        for task in claimed:
            if self.stop.is_set():
                break  # unfinished claims expire, and another worker takes them
            self._run(task)
        return len(claimed)

    def _run(self, task):
        """One task; one whose diagnosis raises (a log no rule expected) ends with the failed
        step's name, and the others go on."""
        try:
            self.diagnoser.run(task)
        except (Stopping, DatabaseError, InterfaceError):
            raise
        except Exception as exc:
            log.exception("job=%s diagnosis failed", task.job_id)
            self.diagnoser.fail(task, exc)

    def drain(self):
        """Run due tasks until none is left, then reclassify (`prmonitor poll --once`)."""
        with db.database.connection_context():
            while self.run_due():
                pass
            classify.reclassify_recent()

    def _reclassify_now_and_then(self):
        if time.monotonic() - self._reclassified < RECLASSIFY_EVERY:
            return
        self._reclassified = time.monotonic()
        changed = classify.reclassify_recent()
        if changed:
            log.info("failures reclassified jobs=%d", changed)


def start(config, stop):
    """The loop in a thread of this process; join it after setting `stop`."""
    loop = DiagnosisLoop.from_config(config, stop)
    thread = threading.Thread(target=loop.run_forever, name="diagnosis", daemon=True)
    thread.start()
    return thread
