"""The worker's analysis loop: every few seconds, claim a due analysis (storage.tasks on the
`analyses` table, FOR UPDATE SKIP LOCKED on Postgres) and ask Claude (failures.analysis); now
and then, record where later events contradicted a verdict (automatic feedback). A thread of
`prmonitor poll` only when ANTHROPIC_API_KEY is set, so a slow AI holds up nothing else."""

import logging
import threading
import time

from peewee import DatabaseError, InterfaceError

from prmonitor.failures import feedback
from prmonitor.failures.analysis import Analyzer
from prmonitor.github import GitHub
from prmonitor.poll import loop
from prmonitor.poll.poller import Stopping, interruptible_sleep
from prmonitor.storage import db, lease, tasks

log = logging.getLogger(__name__)

EVERY = 2.0
FEEDBACK_EVERY = 60.0


class AnalysisQueue:
    """Claims and runs due analyses one at a time."""

    def __init__(self, analyzer, holder=None):
        self.analyzer = analyzer
        self.holder = holder or lease.new_holder()
        self._checked = 0.0

    def run_due(self):
        """One due analysis, if any; whether one was claimed."""
        if time.monotonic() - self._checked > FEEDBACK_EVERY:
            self._checked = time.monotonic()
            found = feedback.record_contradictions()
            if found:
                log.info("analyses contradicted by later events: %d", found)
        if not tasks.has_due(table="analyses"):
            return False
        claimed = tasks.claim(self.holder, 1, table="analyses")
        for task in claimed:
            try:
                self.analyzer.run(task)
            except (Stopping, DatabaseError, InterfaceError):
                raise  # not the task's fault: its claim expires and it is taken again
            except Exception as exc:  # a bug of ours: the task ends, the loop goes on
                log.exception("analysis=%s failed", task.id)
                tasks.finish(task, "failed", repr(exc))
        return bool(claimed)

    def drain(self):
        """Every due analysis now (`prmonitor poll --once`)."""
        with db.database.connection_context():
            while self.run_due():
                pass


def from_config(config, stop):
    """The queue, or None without ANTHROPIC_API_KEY or GitHub credentials."""
    if not config.anthropic_api_key or not config.can_poll:
        return None
    github = GitHub.from_config(config, sleep=interruptible_sleep(stop))
    return AnalysisQueue(Analyzer.from_config(config, github))


def start(config, stop):
    """The loop in a thread of this process, or None when analysis is off."""
    queue = from_config(config, stop)
    if queue is None:
        return None
    args = (queue.run_due, stop, EVERY, "analysis")
    thread = threading.Thread(target=loop.run_forever, args=args, name="analysis", daemon=True)
    thread.start()
    return thread
