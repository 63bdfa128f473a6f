"""The worker's notification loop: every second, claim the PRs whose notifications are due and
send them (prmonitor.notify). A thread of `prmonitor poll` beside the poller and the diagnosis
loop, with a GitHub client of its own that tries each call once: a content-creating request
that failed is tried again by the outbox, after finding out whether it landed."""

import threading

from prmonitor.github import GitHub
from prmonitor.notify.sender import Notifier
from prmonitor.poll import loop
from prmonitor.poll.poller import interruptible_sleep
from prmonitor.storage import db, lease

EVERY = 1.0  # seconds between looks at the outbox


def from_config(config, stop):
    """The Notifier NOTIFY names; its GitHub client (None without credentials) tries once."""
    github = None
    if config.can_poll:
        github = GitHub.from_config(config, attempts=1, sleep=interruptible_sleep(stop))
    return Notifier.from_config(config, github, holder=lease.new_holder())


def start(config, stop):
    """The loop in a thread of this process; join it after setting `stop`."""
    notifier = from_config(config, stop)
    args = (notifier.run_due, stop, EVERY, "notification")
    thread = threading.Thread(target=loop.run_forever, args=args, name="notify", daemon=True)
    thread.start()
    return thread


def drain(config):
    """`prmonitor poll --once`: every pending notification, now."""
    with db.database.connection_context():
        from_config(config, threading.Event()).drain()
