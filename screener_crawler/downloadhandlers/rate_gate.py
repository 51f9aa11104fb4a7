"""The crawl's one rate budget: a hard cap, a pause for everyone after a 429, a lower rate after
repeated 429s, and each retry's own backoff.

The waiting happens in the download handler, the last step before a request goes on the wire,
not in a downloader middleware: between the middlewares and the wire Scrapy may still hold a
request (a download slot's delay or concurrency), and a request held there would otherwise go
out in the middle of a pause, or bunched with the next one.
"""

import logging
import time
import weakref
from collections import deque

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.utils.asyncio import sleep

from screener_crawler.middlewares.backoff import BackoffPolicy, retry_after_seconds

logger = logging.getLogger(__name__)

BACKOFF_UNTIL = "backoff_until"
"""Request meta: wall-clock time before which this request must not leave (a retry's own wait)."""
SENT_AT = "backoff_sent_at"
"""Request meta: when the request last passed the gate (this process's monotonic clock)."""

JITTER_MARGIN = 0.03
"""The window is 3% longer than the cap's second, so the network delaying one request more
than the next cannot squeeze more than the cap into a window on the server's side."""
RECOVERY_STEP = 1.25
MIN_RATE = 0.01
OBSERVED_SENDS = 64

_gates = weakref.WeakKeyDictionary()


class RateLimitedDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP(S) download handler behind the crawl's ``RateGate``."""

    lazy = True

    def __init__(self, crawler):
        super().__init__(crawler)
        self.gate = RateGate.of(crawler)

    async def download_request(self, request):
        if not self.gate.applies_to(request):
            return await super().download_request(request)
        await self.gate.wait(request)
        response = await super().download_request(request)
        self.gate.observe(request, response)
        return response


class RateGate:
    """The one gate every request to the API passes on its way to the wire.

    - A hard cap of ``POLYGON_RATE_LIMIT`` requests per second over the whole crawl (retries and
      pagination included), counted over a sliding window as the API counts it: no second
      holds more than ``rate`` requests (for a rate under one, no ``1 / rate`` seconds more
      than one). A request woken late by a busy reactor is made up within the window instead
      of lost, as spacing each request from the one before would lose it. 0 means no cap.
    - A 429 pauses every request, not just the one refused: for as long as its ``Retry-After``
      says, else 1 s, 2 s, 4 s … (``BACKOFF_*``) over consecutive 429s. 429s answered to
      requests that were already on their way when the pause began belong to the same episode.
    - After ``BACKOFF_LOWER_RATE_AFTER`` consecutive episodes with no success between them, the
      rate is cut by ``BACKOFF_RATE_FACTOR``; it grows back by a quarter after every
      ``BACKOFF_RECOVERY_INTERVAL`` seconds without a 429, up to the cap again.
    - A retried request also waits its own backoff (meta ``backoff_until``, set by
      ``PolygonRetryMiddleware`` after a 5xx, a timeout, a reset or a truncated body).

    Waiting happens on the reactor's clock, never by blocking it.
    """

    def __init__(self, rate, stats, base_url, policy=None, lower_rate_after=3, rate_factor=0.5,
                 recovery_interval=30.0, clock=time.monotonic):
        self._cap = max(rate, 0.0)
        self._rate = self._cap
        self._ceiling = self._cap
        self._stats = stats
        self._base_url = base_url.rstrip("/") + "/"
        self._policy = policy or BackoffPolicy()
        self._lower_rate_after = lower_rate_after
        self._rate_factor = rate_factor
        self._recovery_interval = recovery_interval
        self._clock = clock
        self._window = deque()
        """When the latest requests left, as many as one window may hold."""
        self._paused_until = 0.0
        self._pause_started = float("-inf")
        self._quiet_since = 0.0
        self._streak = 0
        self._sends = deque(maxlen=OBSERVED_SENDS)

    @classmethod
    def of(cls, crawler):
        """The crawl's gate, shared by the HTTP and HTTPS handlers."""
        if crawler not in _gates:
            _gates[crawler] = cls.from_crawler(crawler)
        return _gates[crawler]

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(settings.getfloat("POLYGON_RATE_LIMIT"), crawler.stats, settings["POLYGON_BASE_URL"],
                   policy=BackoffPolicy.from_settings(settings),
                   lower_rate_after=settings.getint("BACKOFF_LOWER_RATE_AFTER"),
                   rate_factor=settings.getfloat("BACKOFF_RATE_FACTOR"),
                   recovery_interval=settings.getfloat("BACKOFF_RECOVERY_INTERVAL"))

    @property
    def rate(self):
        """Requests per second allowed now (0 = no cap)."""
        return self._rate

    def applies_to(self, request):
        return request.url.startswith(self._base_url)

    async def wait(self, request):
        """Return when ``request`` may go: its own backoff served, no pause on, and the cap's
        interval passed since the last request left."""
        await self._wait_for_own_backoff(request)
        held = delayed = False
        while True:
            now = self._clock()
            if self._paused_until > now:
                held = True
                await sleep(self._paused_until - now)
                continue
            next_send = self._window_opens(now)
            if next_send <= now:
                break
            delayed = True
            await sleep(next_send - now)
        if self._rate:
            self._window.append(now)
        self._sends.append(now)
        request.meta[SENT_AT] = now
        if held:
            self._stats.inc_value("backoff/requests_held")
        if delayed:
            self._stats.inc_value("rate_limit/delayed")

    def _window_opens(self, now):
        """When the window has room for one more request: ``rate`` requests (whole ones) a
        second, or, for a rate under one, one per ``1 / rate`` seconds."""
        if not self._rate:
            return now
        room, seconds = max(1, int(self._rate)), max(1.0, 1.0 / self._rate)
        while len(self._window) > room:
            self._window.popleft()
        if len(self._window) < room:
            return now
        return self._window[0] + seconds * (1 + JITTER_MARGIN)

    async def _wait_for_own_backoff(self, request):
        until = request.meta.pop(BACKOFF_UNTIL, None)
        if until is not None and until > time.time():
            self._stats.inc_value("backoff/retries_delayed")
            await sleep(until - time.time())

    def observe(self, request, response):
        """Learn from a response: a 429 pauses everyone; a success ends a run of 429s."""
        sent_at = request.meta.get(SENT_AT, float("inf"))
        if response.status == 429:
            self._throttled(response, fresh=sent_at > self._pause_started)
        elif response.status < 400 and sent_at > self._pause_started:
            self._streak = 0
            self._recover()

    def _throttled(self, response, fresh):
        """A 429: pause every request; a 429 to a request sent after the last pause began is a
        new episode, and enough of them in a row lower the rate."""
        now = self._clock()
        if fresh:
            self._streak += 1
            self._pause_started = now
            self._quiet_since = now
            self._stats.inc_value("backoff/pauses")
            if self._streak >= self._lower_rate_after:
                self._lower_rate()
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is None:
            wait = self._policy.delay(self._streak)
        else:
            self._stats.inc_value("backoff/retry_after_honoured")
        until = now + wait
        if until > self._paused_until:
            self._stats.inc_value("backoff/wait_seconds", round(until - max(now, self._paused_until), 3))
            self._paused_until = until
        if fresh:
            logger.info("Polygon answered 429 (too many requests): pausing every request for %.1f s%s", wait,
                        f"; rate now {self._rate:g}/s" if self._rate else "")

    def _lower_rate(self):
        current = self._rate or self._observed_rate()
        if not self._ceiling:
            self._ceiling = current
        self._rate = max(MIN_RATE, current * self._rate_factor)
        self._stats.inc_value("backoff/rate_lowered")
        self._stats.set_value("backoff/rate", round(self._rate, 3))
        logger.warning("Polygon keeps answering 429 after %d pauses in a row: lowering the rate to %.3g requests/s",
                       self._streak, self._rate)

    def _recover(self):
        """Raise a lowered rate by a step once it has gone ``recovery_interval`` seconds
        without a 429; back at the ceiling, the configured cap (or no cap) applies again."""
        if self._rate == self._cap:
            return
        now = self._clock()
        if now - self._quiet_since < self._recovery_interval:
            return
        self._quiet_since = now
        self._rate = self._rate * RECOVERY_STEP
        if self._rate >= self._ceiling:
            self._rate = self._ceiling = self._cap
        self._stats.inc_value("backoff/rate_raised")
        self._stats.set_value("backoff/rate", round(self._rate, 3))
        logger.info("No 429 for %.0f s: rate raised to %s", self._recovery_interval,
                    f"{self._rate:.3g} requests/s" if self._rate else "the configured cap (none)")

    def _observed_rate(self):
        """Requests per second in the two seconds before the latest pause (at least 1), for
        lowering an uncapped rate."""
        recent = [t for t in self._sends if t > self._pause_started - 2.0]
        return max(1.0, len(recent) / 2.0)
