import time

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call


class ReactorLag:
    """Measures how long the reactor is kept from running its timers: a call every
    ``SCREENER_REACTOR_LAG_INTERVAL`` seconds notes how late it runs. The stats get the worst
    lag (``reactor/max_lag_ms``) and how many ticks ran more than 100 ms late
    (``reactor/lags_over_100ms``): work that stalls the crawl shows up there."""

    def __init__(self, stats, interval):
        self._stats = stats
        self._interval = interval
        self._task = None
        self._expected = None

    @classmethod
    def from_crawler(cls, crawler):
        interval = crawler.settings.getfloat("SCREENER_REACTOR_LAG_INTERVAL")
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler.stats, interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self):
        self._stats.set_value("reactor/max_lag_ms", 0)
        self._stats.set_value("reactor/lags_over_100ms", 0)
        self._expected = time.monotonic() + self._interval
        self._task = create_looping_call(self.tick)
        self._task.start(self._interval, now=False)

    def spider_closed(self):
        if self._task and self._task.running:
            self._task.stop()

    def tick(self):
        now = time.monotonic()
        lag_ms = max(0, round((now - self._expected) * 1000))
        self._stats.max_value("reactor/max_lag_ms", lag_ms)
        if lag_ms > 100:
            self._stats.inc_value("reactor/lags_over_100ms")
        self._expected = now + self._interval
