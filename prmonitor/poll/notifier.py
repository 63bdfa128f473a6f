"""The worker's notification loop: every second, claim the PRs whose notifications are due and
send them (prmonitor.notify). A thread of `prmonitor poll` beside the poller and the diagnosis
loop, with a GitHub client of its own that tries each call once: a content-creating request
that failed is tried again by the outbox, after finding out whether it landed."""

import logging
import threading

from peewee import DatabaseError, InterfaceError

from prmonitor.github import GitHub
from prmonitor.notify.sender import Notifier
from prmonitor.poll.poller import Stopping, interruptible_sleep
from prmonitor.storage import db, lease

log = logging.getLogger(__name__)

EVERY = 1.0  # seconds between looks at the outbox


def from_config(config, stop):
    """The Notifier NOTIFY names; its GitHub client (None without credentials) tries once."""
    github = None
    if config.can_poll:
        github = GitHub.from_config(config, attempts=1, sleep=interruptible_sleep(stop))
    return Notifier.from_config(config, github, holder=lease.new_holder())


def run_forever(worker, stop, every=EVERY, what="notification"):
    """Call `worker.run_due()` until `stop` is set, again at once while it is busy, else after
    `every` seconds; nothing a pass raises ends the loop (the analysis loop's too)."""
    while not stop.is_set():
        try:
            with db.database.connection_context():
                busy = worker.run_due()
        except Stopping:
            return
        except (DatabaseError, InterfaceError) as exc:
            log.warning("%s pass stopped: database error (%s)", what, db.describe(exc))
            busy = False
        except Exception:
            log.exception("%s pass failed; trying again", what)
            busy = False
        if not busy:
            stop.wait(every)


def start(config, stop):
    """The loop in a thread of this process; join it after setting `stop`."""
    notifier = from_config(config, stop)
    thread = threading.Thread(target=run_forever, args=(notifier, stop), name="notify", daemon=True)
    thread.start()
    return thread


def drain(config):
    """`prmonitor poll --once`: every pending notification, now."""
    with db.database.connection_context():
        from_config(config, threading.Event()).drain()
