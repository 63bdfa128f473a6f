"""Event routing: handlers register by event (and optionally action); dispatch finds them."""

from dataclasses import dataclass
from functools import cached_property

from .payloads import clean_text


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
    def __init__(self):
        self._handlers = {}

    def register(self, event, action=None):
        """Decorator: call the function for `event` (any action when `action` is None)."""

        def decorate(handler):
            self._handlers.setdefault((event, action), []).append(handler)
            return handler

        return decorate

    def handles(self, event_name):
        return any(name == event_name for name, _ in self._handlers)

    def dispatch(self, event):
        """Run every handler for the event; returns how many ran (0: nothing to do)."""
        handlers = self.handlers_for(event)
        for handler in handlers:
            handler(event)
        return len(handlers)

    def handlers_for(self, event):
        """The handlers for any action of the event, then those for its action."""
        handlers = list(self._handlers.get((event.name, None), []))
        if event.action is not None:
            handlers.extend(self._handlers.get((event.name, event.action), []))
        return handlers
