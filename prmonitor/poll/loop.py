"""The worker's second-by-second loops (diagnosis, notification, analysis): one step at a time,
each with a database connection of its own, again at once while the step found work, else after
a pause; nothing a step raises ends the loop, and it stops when `stop` is set."""

import logging

from peewee import DatabaseError, InterfaceError

from prmonitor.poll.poller import Stopping
from prmonitor.storage import db

log = logging.getLogger(__name__)


def run_forever(step, stop, every, what):
    """Call `step()` (truthy: busy, more may be due) until `stop` is set; `what` names the
    loop in log lines."""
    while not stop.is_set():
        try:
            with db.database.connection_context():
                busy = step()
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
