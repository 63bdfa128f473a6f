"""The pace of content-creating requests (comments, check runs): GitHub's secondary limits allow
about 80 a minute and 500 an hour per installation, and ask for a second between them. Counted
from the notifications log (each request is noted before it goes out, whatever its answer), so
every worker counts the others' requests; the second between two is kept within a process.
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#pause-between-mutative-requests
"""

import datetime
import threading
import time

from prmonitor.notify.channels import Retry
from prmonitor.storage import outbox
from prmonitor.storage.models import utcnow

PER_MINUTE = 80
PER_HOUR = 500
SPACING = 1.0  # seconds between two content-creating requests of this process


class Pace:
    """Holds content-creating requests to GitHub's secondary limits."""

    def __init__(self, per_minute=PER_MINUTE, per_hour=PER_HOUR, spacing=SPACING, sleep=time.sleep):
        self.per_minute, self.per_hour, self.spacing = per_minute, per_hour, spacing
        self._sleep = sleep
        self._last = -spacing
        self._lock = threading.Lock()

    def wait(self, picture):
        """Return when one more request may go out for the picture's installation, noted as
        going out; raise Retry (no attempt spent) when its minute's or hour's share is used."""
        installation, now = picture.installation_id, utcnow()
        minute = outbox.content_requests(installation, now - datetime.timedelta(minutes=1))
        if minute >= self.per_minute:
            raise Retry(f"{minute} content requests in the last minute", 60, spend_attempt=False)
        hour = outbox.content_requests(installation, now - datetime.timedelta(hours=1))
        if hour >= self.per_hour:
            raise Retry(f"{hour} content requests in the last hour", 600, spend_attempt=False)
        with self._lock:
            gap = self._last + self.spacing - time.monotonic()
            if gap > 0:
                self._sleep(gap)
            self._last = time.monotonic()
        outbox.reserve_request(picture.pr_id, installation)
