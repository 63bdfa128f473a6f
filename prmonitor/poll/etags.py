"""ETags and bodies of GitHub's answers, kept in the database so that a restarted poller still
asks conditionally: a 304 costs nothing of the rate limit, a 200 costs one call.

https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
GitHub's ETags are specific to the token (https://github.com/eclipse-csi/otterdog/issues/201):
after each hourly installation token, every URL is read in full once more, and its new ETag
replaces the old one. Keyed by URL and installation (GitHub.cache_key), not by token, so that
nothing piles up per token.
"""

import datetime
import json

from prmonitor.github import Page
from prmonitor.storage import db
from prmonitor.storage.models import HttpCache, utcnow

# Entries not saved again for this long belong to PRs and runs no longer polled.
KEEP = datetime.timedelta(days=7)


class EtagStore:
    """The http_cache table as the GitHub client's ETag store."""

    def get(self, key):
        """The Page stored under `key` (GitHub.cache_key: its ETag, body and next-page link;
        its url is the key), or None."""
        row = (
            HttpCache.select(HttpCache.etag, HttpCache.body)
            .where(HttpCache.url == key)
            .tuples()
            .first()
        )
        if row is None:
            return None
        try:
            stored = json.loads(row[1])
            return Page(key, stored["body"], row[0], True, stored.get("next"), key)
        except (ValueError, TypeError, KeyError):
            return None  # not what save() writes: read the URL in full

    def save(self, page, body=None):
        """Remember a page once it has been used; `body` replaces what is kept (a slimmer copy).
        A 304 keeps the entry as it is."""
        if page.not_modified or not page.etag:
            return
        kept = {"body": page.body if body is None else body, "next": page.next_url}
        text = json.dumps(kept, separators=(",", ":"))
        row = {"url": page.cache_key, "etag": page.etag, "body": text, "saved_at": utcnow()}
        with db.writing():
            HttpCache.insert(**row).on_conflict(
                conflict_target=[HttpCache.url],
                preserve=[HttpCache.etag, HttpCache.body, HttpCache.saved_at],
            ).execute()

    def forget(self, key):
        """Drop what is stored under `key`: its next read is a full one."""
        with db.writing():
            HttpCache.delete().where(HttpCache.url == key).execute()

    def prune(self):
        """Drop entries not saved for KEEP; returns how many."""
        with db.writing():
            return HttpCache.delete().where(HttpCache.saved_at < utcnow() - KEEP).execute()
