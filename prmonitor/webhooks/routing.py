"""Event routing: handlers register by event (and optionally action) and return their Writes.

A handler does not write: it parses the delivery and returns a Write, the ingest function and
the parsed rows, which the receiver runs inside the delivery's one transaction, after the claim
of its id. Parsing thus happens before the transaction begins, and on SQLite the database's one
write lock is held only to write.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from prmonitor.github.payloads import clean_text


@dataclass(frozen=True)
class Event:
    """One delivery: X-GitHub-Event, the parsed payload and X-GitHub-Delivery."""

    name: str
    payload: dict
    delivery_id: str = ""

    @cached_property
    def action(self):
        """The payload's action (opened, completed, ...), or None."""
        action = self.payload.get("action")
        return clean_text(action)[:100] if isinstance(action, str) else None


@dataclass(frozen=True)
class Write:
    """What a delivery stores: `apply(*args)`, run by the receiver inside the transaction."""

    apply: Callable
    args: tuple = field(default=())

    def __call__(self):
        return self.apply(*self.args)


class Router:
    """Handlers by (event, action); `prepare` parses a delivery into the Writes it makes."""

    def __init__(self):
        self._handlers = {}
        self._events = set()

    def register(self, event, action=None):
        """Decorator: call the function for `event` (any action when `action` is None). It
        parses the event (raising PayloadError on a bad payload) and returns the Write that
        stores its rows, or None when there is nothing to write."""

        def decorate(handler):
            self._handlers.setdefault((event, action), []).append(handler)
            self._events.add(event)
            return handler

        return decorate

    def handles(self, event_name):
        """Whether any handler is registered for the event."""
        return event_name in self._events

    def prepare(self, event):
        """(handlers found, the writes they returned) for the event; parsing happens here."""
        handlers = self.handlers_for(event)
        writes = [write for write in (handler(event) for handler in handlers) if write]
        return len(handlers), writes

    def handlers_for(self, event):
        """The handlers for any action of the event, then those for its action."""
        handlers = list(self._handlers.get((event.name, None), []))
        if event.action is not None:
            handlers.extend(self._handlers.get((event.name, event.action), []))
        return handlers
