import gc
import logging
import resource
import time

from screener_crawler.extensions.periodic import PeriodicExtension

logger = logging.getLogger(__name__)


class ReactorLag(PeriodicExtension):
    """Measures how long the reactor is kept from running its timers: a call every
    ``SCREENER_REACTOR_LAG_INTERVAL`` seconds notes how late it runs. The stats get the worst
    lag (``reactor/max_lag_ms``) and how many ticks ran more than 100 ms late
    (``reactor/lags_over_100ms``): work that stalls the crawl shows up there.

    Python's garbage collector holds the GIL while it runs, whichever thread started it, so no
    Python code runs meanwhile; its longest pass is noted beside the lags
    (``reactor/gc_max_pause_ms``, ``reactor/gc_pauses_over_100ms``, and per generation
    collected, ``reactor/gc_pauses_over_100ms/generation_N``): a lag as long as a collection
    is the collector's, not the pipelines'.

    Nor is a lag the pipelines' while the operating system keeps the reactor's thread waiting
    for a CPU, as it does when the crawl's own threads and the sandbox keep both cores of a
    2-core machine busy. Where Linux says how long the thread has waited so
    (``/proc/thread-self/schedstat``), each lag is also recorded less that wait since the
    previous tick (``reactor/max_lag_less_cpu_queue_ms``,
    ``reactor/lags_over_100ms_less_cpu_queue``): what is left is time the reactor spent
    running, or blocked on the GIL or a system call.

    Each lag over 100 ms is also logged with what the thread did since the previous tick: how
    long it waited for a CPU, and how long it ran, in user space and in the kernel (page faults,
    memory reclaim); what is left of the lag it spent blocked, on the GIL or in a system call."""

    INTERVAL_SETTING = "SCREENER_REACTOR_LAG_INTERVAL"
    _queued = None

    def started(self):
        for name in ("max_lag_ms", "lags_over_100ms", "gc_max_pause_ms", "gc_pauses_over_100ms",
                     "max_lag_less_cpu_queue_ms", "lags_over_100ms_less_cpu_queue"):
            self._stats.set_value(f"reactor/{name}", 0)
        self._expected = time.monotonic() + self._interval
        self._queued = self.cpu_queue_seconds()
        self._cpu = self.thread_cpu_seconds()
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
        queued, cpu = self.cpu_queue_seconds(), self.thread_cpu_seconds()
        queued_ms = None
        if queued is not None and self._queued is not None:
            queued_ms = round((queued - self._queued) * 1000)
            own_ms = max(0, lag_ms - queued_ms)
            self._stats.max_value("reactor/max_lag_less_cpu_queue_ms", own_ms)
            if own_ms > 100:
                self._stats.inc_value("reactor/lags_over_100ms_less_cpu_queue")
        if lag_ms > 100:
            self._log_lag(lag_ms, queued_ms, cpu)
        self._queued, self._cpu = queued, cpu
        self._expected = now + self._interval

    def _log_lag(self, lag_ms, queued_ms, cpu):
        user_ms, kernel_ms = (round((now - before) * 1000) for now, before in zip(cpu, self._cpu))
        waited = "an unknown time" if queued_ms is None else f"{queued_ms} ms"
        logger.info("The reactor ran %d ms late; since the tick before, %.0f ms earlier, its thread waited %s "
                    "for a CPU and ran %d ms in user space and %d ms in the kernel", lag_ms,
                    lag_ms + self._interval * 1000, waited, user_ms, kernel_ms)

    @staticmethod
    def thread_cpu_seconds():
        """(user, system) CPU seconds of the calling thread, of the process where Linux's
        per-thread figure is not available."""
        usage = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
        return usage.ru_utime, usage.ru_stime

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
            self._stats.inc_value(f"reactor/gc_pauses_over_100ms/generation_{info['generation']}")
