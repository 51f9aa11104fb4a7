import gc
import time

from screener_crawler.extensions.periodic import PeriodicExtension


class ReactorLag(PeriodicExtension):
    """Measures how long the reactor is kept from running its timers: a call every
    ``SCREENER_REACTOR_LAG_INTERVAL`` seconds notes how late it runs. The stats get the worst
    lag (``reactor/max_lag_ms``) and how many ticks ran more than 100 ms late
    (``reactor/lags_over_100ms``): work that stalls the crawl shows up there.

    Python's garbage collector holds the GIL while it runs, whichever thread started it, so no
    Python code runs meanwhile; its longest pass is noted beside the lags
    (``reactor/gc_max_pause_ms``, ``reactor/gc_pauses_over_100ms``): a lag as long as a
    collection is the collector's, not the pipelines'."""

    INTERVAL_SETTING = "SCREENER_REACTOR_LAG_INTERVAL"

    def started(self):
        for name in ("max_lag_ms", "lags_over_100ms", "gc_max_pause_ms", "gc_pauses_over_100ms"):
            self._stats.set_value(f"reactor/{name}", 0)
        self._expected = time.monotonic() + self._interval
        self._collection_started = None
        gc.callbacks.append(self.collection)

    def spider_closed(self):
        super().spider_closed()
        if self.collection in gc.callbacks:
            gc.callbacks.remove(self.collection)

    def tick(self):
        now = time.monotonic()
        lag_ms = max(0, round((now - self._expected) * 1000))
        self._stats.max_value("reactor/max_lag_ms", lag_ms)
        if lag_ms > 100:
            self._stats.inc_value("reactor/lags_over_100ms")
        self._expected = now + self._interval

    def collection(self, phase, info):
        """``gc.callbacks`` hook: times each pass of the collector."""
        if phase == "start":
            self._collection_started = time.perf_counter()
            return
        if self._collection_started is None:
            return
        pause_ms = round((time.perf_counter() - self._collection_started) * 1000)
        self._collection_started = None
        self._stats.max_value("reactor/gc_max_pause_ms", pause_ms)
        if pause_ms > 100:
            self._stats.inc_value("reactor/gc_pauses_over_100ms")
