"""Missed-delivery recovery: ask GitHub to send again the App's deliveries that never arrived.

GitHub does not redeliver a failed delivery by itself, and keeps deliveries for redelivery for
three days: https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks
and https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook
A delivery is asked again once, only when no attempt of it (the same GUID) succeeded, when it
failed on our side of the wire (no answer, a timeout or a 5xx: a 4xx would fail again), and when
we never processed it ourselves (an answer that came too late for GitHub may still have landed).
"""

import datetime
import logging

from prmonitor.github import GitHubError, RateLimited, Unavailable
from prmonitor.github.payloads import timestamp
from prmonitor.storage import db
from prmonitor.storage.models import Delivery, Redelivery, utcnow

log = logging.getLogger(__name__)

# Inside GitHub's three days, with an hour's margin.
WINDOW = datetime.timedelta(hours=71)
MAX_PAGES = 10
PER_CYCLE = 20  # redelivery requests per cycle at most: an outage's backlog drains over cycles
ASKED, REFUSED, HELD_BACK = "asked", "refused", "held back"  # what came of one request


class Recovery:
    """Finds the App's failed deliveries and asks GitHub to send each again, once."""

    def __init__(self, github, per_cycle=PER_CYCLE, heartbeat=None):
        self.github, self.per_cycle = github, per_cycle
        # Called before each request: the poller renews its lease there (and stops if it was
        # lost), so that two pollers never ask GitHub for the same delivery.
        self.heartbeat = heartbeat or (lambda: None)
        # Deliveries up to here were looked at by an earlier cycle of this process.
        self._seen_until = None
        # Whether the last look asked for everything it found (nothing over the per-cycle
        # bound, nothing GitHub held back): only then may an unchanged first page end a look.
        self._complete = False

    def run(self):
        """One look at the App's recent deliveries; returns how many were asked again."""
        deliveries = self._recent()
        requests = self._new_requests(_failed_guids(deliveries))
        outcomes = []
        for delivery in requests[: self.per_cycle]:
            self.heartbeat()
            outcomes.append(self._redeliver(delivery))
            if outcomes[-1] == HELD_BACK:
                break  # GitHub is down or limiting us: the rest waits for the next cycle too
        self._complete = len(requests) <= self.per_cycle and HELD_BACK not in outcomes
        if self._complete:
            # Nothing left over: the next look can stop where this one began. Times are
            # GitHub's own, so our clock's drift does not matter.
            self._seen_until = max(filter(None, map(_delivered_at, deliveries)), default=None)
        return outcomes.count(ASKED)

    def _recent(self):
        """Deliveries inside the window and newer than the last complete look (less an hour,
        for attempts still being made), newest first."""
        since = utcnow() - WINDOW
        if self._seen_until is not None:
            since = max(since, self._seen_until - datetime.timedelta(hours=1))
        found, url, params = [], "app/hook/deliveries", {"per_page": 100}
        for number in range(MAX_PAGES):
            self.heartbeat()
            # The first page asks conditionally: with no new delivery it costs a 304.
            page = self.github.get(url, params, as_app=True, conditional=number == 0)
            batch = [d for d in page.body if isinstance(d, dict)]
            found.extend(batch)
            if number == 0 and self.github.etags:
                self.github.etags.save(page)
            oldest = _delivered_at(batch[-1]) if batch else None
            if not page.next_url or oldest is None or oldest < since:
                break
            if page.not_modified and self._complete:
                break  # nothing new since a look that left nothing over
            url, params = page.next_url, None
        return [d for d in found if (_delivered_at(d) or since) >= since]

    def _new_requests(self, candidates):
        """Candidates we neither processed ourselves nor asked for before."""
        if not candidates:
            return []
        guids = [d["guid"] for d in candidates]
        handled = {
            guid
            for (guid,) in Delivery.select(Delivery.delivery_id)
            .where(Delivery.delivery_id.in_(guids) & Delivery.outcome.not_in(("failed",)))
            .tuples()
        }
        asked = {
            guid
            for (guid,) in Redelivery.select(Redelivery.guid)
            .where(Redelivery.guid.in_(guids))
            .tuples()
        }
        return [d for d in candidates if d["guid"] not in handled | asked]

    def _redeliver(self, delivery):
        """Ask for one delivery again: ASKED when GitHub took the request, REFUSED (a 4xx,
        remembered like a request, so it is not asked again) or HELD_BACK (an outage or the
        rate limit: asked again next cycle)."""
        try:
            self.github.post(f"app/hook/deliveries/{delivery['id']}/attempts", as_app=True)
        except (Unavailable, RateLimited) as exc:
            log.warning("redelivery guid=%s not requested: %s", delivery["guid"], exc)
            return HELD_BACK
        except GitHubError as exc:
            log.warning("redelivery guid=%s refused: %s", delivery["guid"], exc)
            self._remember(delivery)
            return REFUSED
        self._remember(delivery)
        log.info(
            "redelivery requested guid=%s event=%s status_code=%s",
            delivery["guid"],
            delivery.get("event"),
            delivery.get("status_code"),
        )
        return ASKED

    def _remember(self, delivery):
        with db.writing():
            Redelivery.insert(
                hook_delivery_id=delivery["id"],
                guid=delivery["guid"],
                event=delivery.get("event"),
                requested_at=utcnow(),
            ).on_conflict_ignore().execute()


def _failed_guids(deliveries):
    """The newest attempt of each GUID none of whose attempts succeeded, when it failed in a way
    a new attempt can fix."""
    by_guid = {}
    for delivery in deliveries:
        if not isinstance(delivery.get("id"), int) or not isinstance(delivery.get("guid"), str):
            continue
        by_guid.setdefault(delivery["guid"], []).append(delivery)
    failed = []
    for attempts in by_guid.values():
        if any(_succeeded(a) for a in attempts):
            continue
        newest = max(attempts, key=lambda a: a["id"])
        if _retryable(newest):
            failed.append(newest)
    return sorted(failed, key=lambda d: d["id"])


def _succeeded(delivery):
    code = delivery.get("status_code")
    return isinstance(code, int) and 200 <= code < 300


def _retryable(delivery):
    code = delivery.get("status_code")
    return not isinstance(code, int) or code == 0 or code >= 500 or code == 429


def _delivered_at(delivery):
    try:
        return timestamp(delivery, "delivered_at")
    except ValueError:
        return None
