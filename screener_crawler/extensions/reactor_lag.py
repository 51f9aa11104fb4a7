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
    collection is the collector's, not the pipelines'.

    Nor is a lag the pipelines' while the operating system keeps the reactor's thread waiting
    for a CPU, as it does when the worker processes and the sandbox keep both cores of a
    2-core machine busy. Where Linux says how long the thread has waited so
    (``/proc/thread-self/schedstat``), each lag is also recorded less that wait since the
    previous tick (``reactor/max_lag_less_cpu_queue_ms``,
    ``reactor/lags_over_100ms_less_cpu_queue``): what is left is time the reactor spent
    running, or blocked on the GIL or a system call."""

    INTERVAL_SETTING = "SCREENER_REACTOR_LAG_INTERVAL"
    _queued = None

    def started(self):
        for name in ("max_lag_ms", "lags_over_100ms", "gc_max_pause_ms", "gc_pauses_over_100ms",
                     "max_lag_less_cpu_queue_ms", "lags_over_100ms_less_cpu_queue"):
            self._stats.set_value(f"reactor/{name}", 0)
        self._expected = time.monotonic() + self._interval
        self._queued = self.cpu_queue_seconds()
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
        queued = self.cpu_queue_seconds()
        if queued is not None and self._queued is not None:
            own_ms = max(0, lag_ms - round((queued - self._queued) * 1000))
            self._stats.max_value("reactor/max_lag_less_cpu_queue_ms", own_ms)
            if own_ms > 100:
                self._stats.inc_value("reactor/lags_over_100ms_less_cpu_queue")
        self._queued = queued
        self._expected = now + self._interval

    @staticmethod
    def cpu_queue_seconds():
        """Seconds the calling thread has spent runnable but waiting for a CPU, or None where
        the kernel does not say."""
        try:
            with open("/proc/thread-self/schedstat", "rb") as schedstat:
                return int(schedstat.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return None

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
