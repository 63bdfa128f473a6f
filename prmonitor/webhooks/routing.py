"""Event routing: handlers register by event (and optionally action); dispatch finds them."""

from dataclasses import dataclass
from functools import cached_property

from prmonitor.github.payloads import clean_text


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict
    delivery_id: str = ""

    @cached_property
    def action(self):
        action = self.payload.get("action")
        return clean_text(action)[:100] if isinstance(action, str) else None


class Router:
    """Handlers parse a delivery and return what it writes, so that the receiver parses outside
    the write transaction and holds the database's one write lock (SQLite) only to write."""

    def __init__(self):
        self._handlers = {}

    def register(self, event, action=None):
        """Decorator: call the function for `event` (any action when `action` is None). It
        parses the event (raising PayloadError on a bad payload) and returns a function that
        writes its rows, or None when there is nothing to write."""

        def decorate(handler):
            self._handlers.setdefault((event, action), []).append(handler)
            return handler

        return decorate

    def handles(self, event_name):
        return any(name == event_name for name, _ in self._handlers)

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
