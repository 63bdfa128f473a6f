"""The poller lease: one row per named job says which process may run it, until when.

Several web dynos and workers share one database; only the lease holder reconciles. The holder
renews the lease as it works; a crashed holder's lease expires and another process takes over.
"""

import datetime
import json
import os
import socket
import time
import uuid

from peewee import EXCLUDED, Case

from prmonitor.storage import db
from prmonitor.storage.models import EPOCH, Lease, utcnow

POLLER = "poller"


def new_holder():
    """A name for this process: host and pid to read, and a random part to be unique."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(name, holder, ttl):
    """Take or renew the lease for `ttl` seconds; True when `holder` now has it."""
    now = utcnow()
    expires = now + datetime.timedelta(seconds=ttl)
    with db.writing():
        Lease.insert(name=name, holder=holder, expires_at=expires, acquired_at=now).on_conflict(
            conflict_target=[Lease.name],
            update={
                Lease.holder: EXCLUDED.holder,
                Lease.expires_at: EXCLUDED.expires_at,
                # A renewal keeps the time the holder first took the lease.
                Lease.acquired_at: Case(
                    None, [(Lease.holder == EXCLUDED.holder, Lease.acquired_at)], now
                ),
            },
            where=(Lease.holder == holder) | (Lease.expires_at < now),
        ).as_rowcount().execute()
        current = Lease.select(Lease.holder).where(Lease.name == name).scalar()
    return current == holder


def release(name, holder):
    """Give the lease up at once (a clean shutdown), so another process need not wait."""
    with db.writing():
        Lease.update(expires_at=EPOCH).where(
            (Lease.name == name) & (Lease.holder == holder)
        ).execute()


def record_status(name, holder, status):
    """Keep the holder's last cycle (a JSON-able dict) on its lease row, for GET /api/status."""
    with db.writing():
        Lease.update(status=json.dumps(status, default=str)).where(
            (Lease.name == name) & (Lease.holder == holder)
        ).execute()


def is_held(name):
    """Whether some process holds the lease now."""
    return Lease.select().where((Lease.name == name) & (Lease.expires_at > utcnow())).exists()


def describe(name):
    """The lease as a dict (holder, times, active, last status), or None when never taken."""
    lease = Lease.get_or_none(Lease.name == name)
    if lease is None:
        return None
    return {
        "holder": lease.holder,
        "active": lease.expires_at > utcnow(),
        "expires_at": lease.expires_at.isoformat() + "Z",
        "acquired_at": lease.acquired_at.isoformat() + "Z",
        "last_cycle": json.loads(lease.status) if lease.status else None,
    }


class HeldLately:
    """Whether a lease is held, looked up at most once every `interval` seconds per process:
    the receiver asks at every delivery, and an answer half a minute old serves it well."""

    def __init__(self, name, interval=30.0):
        self.name, self.interval = name, interval
        self._until, self._held = 0.0, False

    def __call__(self):
        now = time.monotonic()
        if now >= self._until:
            self._held, self._until = is_held(self.name), now + self.interval
        return self._held


poller_held_lately = HeldLately(POLLER)
