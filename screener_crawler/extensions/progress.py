import logging
import time
from datetime import timedelta

from screener_crawler.extensions.periodic import PeriodicExtension

logger = logging.getLogger(__name__)


class CrawlProgress(PeriodicExtension):
    """Logs a progress line every ``SCREENER_PROGRESS_INTERVAL`` seconds: units done of
    planned, tickers complete, request rate, 429s, retries and an ETA from the unit rate."""

    INTERVAL_SETTING = "SCREENER_PROGRESS_INTERVAL"

    def started(self):
        self._started = self._last = (time.monotonic(), 0)

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
        elapsed = now - self._started[0]
        eta = "unknown"
        if done and planned > done:
            eta = str(timedelta(seconds=round(elapsed / done * (planned - done))))
        percent = f"{100 * done / planned:.1f}%" if planned else "-"
        logger.info(
            "Progress: units %s/%s (%s), tickers complete %s/%s, %.1f req/s, 429s %s, retries %s, ETA %s",
            f"{done:,}", f"{planned:,}", percent, f"{stats.get('tickers/complete', 0):,}",
            f"{stats.get('tickers/total', 0):,}", rate,
            stats.get("downloader/response_status_count/429", 0), stats.get("retry/count", 0), eta,
        )
