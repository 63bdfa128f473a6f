"""The `worker` process around the poller: stopping on Heroku's SIGTERM, and idling until
credentials exist."""

import logging
import signal
import threading
import time

from peewee import DatabaseError, InterfaceError

from prmonitor.poll import analyst, diagnoser, notifier
from prmonitor.storage import db, deliveries, sessions

log = logging.getLogger(__name__)

STOP_GRACE = 15.0  # seconds


def run(config, poller, stop):
    """The worker: the poller in this thread every CHECK_INTERVAL, and the diagnosis,
    notification and (with ANTHROPIC_API_KEY) analysis loops in others, until `stop` is set.
    They get STOP_GRACE seconds together to end (Heroku kills the dyno 30 s after SIGTERM);
    a task still running then is left to its claim's expiry, and another worker takes it."""
    log.info("poller started interval=%ss holder=%s", config.check_interval, poller.holder)
    threads = [diagnoser.start(config, stop), notifier.start(config, stop)]
    threads += [t for t in [analyst.start(config, stop)] if t is not None]
    try:
        poller.run_forever(stop)
    finally:
        stop.set()
        deadline = time.monotonic() + STOP_GRACE
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


def diagnose_due(config):
    """`prmonitor poll --once`: the diagnoses due now, after the cycle, the analyses, then
    every pending notification."""
    stop = threading.Event()
    diagnoser.DiagnosisLoop.from_config(config, stop).drain()
    queue = analyst.from_config(config, stop)
    if queue is not None:
        queue.drain()
    notifier.drain(config)


def stop_on_signals():
    """An event set by SIGTERM (Heroku stops a dyno so, then kills it 30 s later) or Ctrl-C."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


# While the worker has no credentials it says so this often.
IDLE_REMINDER = 3600.0


def idle_until_configured(stop, retention_days, every=IDLE_REMINDER):
    """The worker before the App exists: Heroku starts it with the app (app.json), but its
    credentials are set only once the App is created. Exiting would have it restarted again
    and again; it waits instead, saying what to set now and then (setting a config var restarts
    the dyno, with them), and keeps the deliveries table pruned for a webhook-only set-up."""
    while True:
        log.warning(
            "poller idle: polling needs GitHub credentials; set APP_ID with PRIVATE_KEY (or "
            "PRIVATE_KEY_PATH), or GITHUB_TOKEN, and restart"
        )
        try:
            with db.database.connection_context():
                deliveries.prune(retention_days)
                sessions.prune()
        except (DatabaseError, InterfaceError) as exc:
            log.warning("deliveries not pruned: database error (%s)", db.describe(exc))
        if stop.wait(every):
            return
