"""ETags and bodies of GitHub's answers, kept in the database so that a restarted poller still
asks conditionally: a 304 costs nothing of the rate limit, a 200 costs one call.

https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
Keyed by URL alone: GitHub's ETag is the content's, not the (hourly rotating) token's.
"""

import datetime
import json

from . import db
from .models import HttpCache, utcnow

# Entries not saved again for this long belong to PRs and runs no longer polled.
KEEP = datetime.timedelta(days=7)


class EtagStore:
    def get(self, url):
        """(etag, body as JSON text) stored for `url`, or None."""
        return (
            HttpCache.select(HttpCache.etag, HttpCache.body)
            .where(HttpCache.url == url)
            .tuples()
            .first()
        )

    def save(self, page, body=None):
        """Remember a page once it has been used; `body` replaces what is kept (a slimmer copy).
        A 304 keeps the entry as it is."""
        if page.not_modified or not page.etag:
            return
        text = json.dumps(page.body if body is None else body, separators=(",", ":"))
        with db.writing():
            HttpCache.insert(
                url=page.url, etag=page.etag, body=text, saved_at=utcnow()
            ).on_conflict(
                conflict_target=[HttpCache.url],
                preserve=[HttpCache.etag, HttpCache.body, HttpCache.saved_at],
            ).execute()

    def prune(self):
        with db.writing():
            return HttpCache.delete().where(HttpCache.saved_at < utcnow() - KEEP).execute()
