import time

from screener_crawler.extensions.periodic import PeriodicExtension


class ReactorLag(PeriodicExtension):
    """Measures how long the reactor is kept from running its timers: a call every
    ``SCREENER_REACTOR_LAG_INTERVAL`` seconds notes how late it runs. The stats get the worst
    lag (``reactor/max_lag_ms``) and how many ticks ran more than 100 ms late
    (``reactor/lags_over_100ms``): work that stalls the crawl shows up there."""

    INTERVAL_SETTING = "SCREENER_REACTOR_LAG_INTERVAL"

    def started(self):
        self._stats.set_value("reactor/max_lag_ms", 0)
        self._stats.set_value("reactor/lags_over_100ms", 0)
        self._expected = time.monotonic() + self._interval

    def tick(self):
        now = time.monotonic()
        lag_ms = max(0, round((now - self._expected) * 1000))
        self._stats.max_value("reactor/max_lag_ms", lag_ms)
        if lag_ms > 100:
            self._stats.inc_value("reactor/lags_over_100ms")
        self._expected = now + self._interval
