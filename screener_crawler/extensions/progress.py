import logging
import time
from collections import deque
from datetime import timedelta

from screener_crawler.extensions.periodic import PeriodicExtension

logger = logging.getLogger(__name__)

ETA_WINDOW_SECONDS = 120
"""The ETA is the units left at the rate of the last two minutes. At the rate since the start,
which counts the quick early units (universe, corporate actions, listings by batch), a
1,000-ticker crawl showed an ETA under a minute for its last five."""


class CrawlProgress(PeriodicExtension):
    """Logs a progress line every ``SCREENER_PROGRESS_INTERVAL`` seconds: units done of
    planned, tickers complete, request rate, 429s, retries and an ETA from the recent unit rate
    (``ETA_WINDOW_SECONDS``; "unknown" while no unit has ended in that time)."""

    INTERVAL_SETTING = "SCREENER_PROGRESS_INTERVAL"

    def started(self):
        now = time.monotonic()
        self._last = (now, 0)
        self._recent = deque([(now, 0)])

    def units_done(self):
        stats = self._stats.get_stats()
        return sum(v for k, v in stats.items() if k.startswith(("units/complete/", "units/failed/")))

    def tick(self):
        stats = self._stats.get_stats()
        now = time.monotonic()
        requests = stats.get("downloader/request_count", 0)
        last_time, last_requests = self._last
        self._last = (now, requests)
        rate = (requests - last_requests) / max(now - last_time, 1e-9)
        done, planned = self.units_done(), stats.get("units/planned", 0)
        eta = self._eta(now, done, planned)
        percent = f"{100 * done / planned:.1f}%" if planned else "-"
        logger.info(
            "Progress: units %s/%s (%s), tickers complete %s/%s, %.1f req/s, 429s %s, retries %s, ETA %s",
            f"{done:,}", f"{planned:,}", percent, f"{stats.get('tickers/complete', 0):,}",
            f"{stats.get('tickers/total', 0):,}", rate,
            stats.get("downloader/response_status_count/429", 0), stats.get("retry/count", 0), eta,
        )

    def _eta(self, now, done, planned):
        self._recent.append((now, done))
        while len(self._recent) > 2 and now - self._recent[1][0] >= ETA_WINDOW_SECONDS:
            self._recent.popleft()
        then, done_then = self._recent[0]
        if planned <= done:
            return "0:00:00"
        if done <= done_then:
            return "unknown"
        return str(timedelta(seconds=round((now - then) / (done - done_then) * (planned - done))))
