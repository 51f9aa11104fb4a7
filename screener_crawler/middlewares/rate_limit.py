import time

from scrapy.utils.asyncio import sleep


class RateLimitMiddleware:
    """A hard cap of ``POLYGON_RATE_LIMIT`` requests per second across the whole crawl.

    Requests are spaced at least ``1 / rate`` seconds apart as they leave for the network
    (retries and pagination included), so no window of any length sees more than the cap.
    Waiting happens on the reactor's clock, never by blocking it. 0 means no cap.
    """

    def __init__(self, rate, stats):
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next_slot = 0.0
        self._stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getfloat("POLYGON_RATE_LIMIT"), crawler.stats)

    async def process_request(self, request):
        if not self._interval:
            return None
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            self._stats.inc_value("rate_limit/delayed")
            await sleep(slot - now)
        return None
