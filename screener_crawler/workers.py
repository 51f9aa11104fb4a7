"""Blocking work of a crawl (Parquet writes, ratio computation) in worker processes.

Threads would share the crawl's GIL: pyarrow holds it for most of a small file's write, so six
writer threads got about 1.3 cores out of two and kept the reactor waiting for the GIL. Worker
processes each have their own. A job carries a key, and the jobs of one key always go to the
same process, one after another: two writes of the same unit never overlap.

``SCREENER_WORKER_PROCESSES = 0`` runs the jobs in threads of the crawl's own process instead.

The workers run at a lower CPU priority than the crawl (``SCREENER_WORKER_NICENESS``): when
they keep every core busy, the reactor, which needs little CPU but needs it at once, and the
crawl's threads that feed the workers while holding its GIL, are given a core first.
"""

import asyncio
import multiprocessing
import os
import resource
import weakref
import zlib
from collections import deque
from concurrent.futures import ProcessPoolExecutor

from scrapy import signals
from scrapy.utils.asyncio import run_in_thread

from screener_crawler.worker_start import start_worker

_pools = weakref.WeakKeyDictionary()


def worker_pool(crawler):
    """The crawl's one ``WorkerPool``, made on first use and shut down when the spider closes."""
    if crawler not in _pools:
        pool = _pools[crawler] = WorkerPool(crawler.settings.getint("SCREENER_WORKER_PROCESSES"),
                                            crawler.settings.getint("SCREENER_WORKER_NICENESS"),
                                            crawler.settings.getint("SCREENER_MALLOC_MMAP_THRESHOLD"))

        async def shutdown():
            crawler.stats.set_value("workers/most_jobs_waiting", pool.most_jobs_waiting)
            await run_in_thread(pool.shutdown)
            record_cpu_seconds(crawler.stats)

        crawler.signals.connect(shutdown, signal=signals.spider_closed, weak=False)
    return _pools[crawler]


def record_cpu_seconds(stats):
    """Put in the stats the CPU seconds of the crawl's own process (``cpu/crawl_process_seconds``)
    and of its worker processes once they have exited (``cpu/worker_processes_seconds``): which
    side a crawl waits for."""
    for name, who in (("crawl_process", resource.RUSAGE_SELF), ("worker_processes", resource.RUSAGE_CHILDREN)):
        usage = resource.getrusage(who)
        stats.set_value(f"cpu/{name}_seconds", round(usage.ru_utime + usage.ru_stime))


class WorkerPool:
    def __init__(self, processes, niceness=0, mmap_threshold=0):
        self.processes = processes
        context = multiprocessing.get_context("spawn")
        self._executors = [
            ProcessPoolExecutor(1, mp_context=context, initializer=start_worker,
                                initargs=(os.getpid(), niceness, mmap_threshold))
            for _ in range(processes)
        ]
        self._room_waiters = []
        self.most_jobs_waiting = 0
        self._queues = [JobQueue(executor, self._waiting_changed) for executor in self._executors]

    async def run(self, key, function, *args, urgent=False):
        """``function(*args)`` in the process of ``key`` (a thread when there are none). An int
        key picks the process by number, so that lanes 0 and 1 run on different cores; None
        picks the process with the fewest jobs, running or waiting. An ``urgent`` job goes
        before the jobs waiting that are not."""
        if not self._executors:
            return await run_in_thread(function, *args)
        if key is None:
            queue = min(self._queues, key=lambda queue: queue.jobs)
        else:
            number = key if isinstance(key, int) else zlib.crc32(repr(key).encode())
            queue = self._queues[number % len(self._queues)]
        return await queue.run(function, args, urgent)

    def jobs_waiting(self):
        """Jobs given to the pool that no worker process has been sent yet."""
        return sum(queue.waiting for queue in self._queues)

    def shortest_queue(self):
        """The fewest jobs waiting for any one worker process (0 without processes)."""
        return min((queue.waiting for queue in self._queues), default=0)

    async def room_for_jobs(self, limit):
        """Return once some worker process has fewer than ``limit`` jobs waiting for it. Not
        the pool's total: a worker busy with a long job (a month of grouped daily prices is
        10,000 files) holds the total up while the other one runs out of work."""
        while self.shortest_queue() >= limit:
            room = asyncio.get_running_loop().create_future()
            self._room_waiters.append((limit, room))
            await room

    def _waiting_changed(self):
        self.most_jobs_waiting = max(self.most_jobs_waiting, self.jobs_waiting())
        shortest = self.shortest_queue()
        if any(shortest < limit for limit, _ in self._room_waiters):
            still_waiting = []
            for limit, room in self._room_waiters:
                if shortest >= limit:
                    still_waiting.append((limit, room))
                elif not room.done():
                    room.set_result(None)
            self._room_waiters = still_waiting

    def shutdown(self):
        """Wait for the workers to exit (about a second). Called on ``spider_closed``, in a
        thread, when every job has been awaited: on ``engine_stopped`` the wait raced Scrapy's
        HTTP handler, whose close fires a 1-s timeout as well, and not waiting left Python
        3.11's exit hook writing to the executors' closed wake-up pipes."""
        for executor in self._executors:
            executor.shutdown(wait=True)
        self._executors = []


class JobQueue:
    """The jobs of one worker process: ``IN_FLIGHT`` of them submitted to its executor, the
    rest waiting here, urgent ones first, each kind in the order it came.

    An executor runs what it is given in order, so a page that arrived while a hundred units
    waited to be written waited behind them; a page read is urgent."""

    IN_FLIGHT = 2
    """One job running and the next already sent, so the worker never waits for the crawl."""

    def __init__(self, executor, on_waiting_changed):
        self._executor = executor
        self._on_waiting_changed = on_waiting_changed
        self._submitted = 0
        self._waiting = (deque(), deque())
        self.waiting = 0
        """Jobs here that have not been sent to the executor yet."""

    @property
    def jobs(self):
        """Jobs given to this process and not finished: sent to it or waiting here."""
        return self._submitted + self.waiting

    async def run(self, function, args, urgent):
        if self._submitted < self.IN_FLIGHT:
            self._submitted += 1
        else:
            turn = asyncio.get_running_loop().create_future()
            self._waiting[0 if urgent else 1].append(turn)
            self.waiting += 1
            self._on_waiting_changed()
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()
                raise
            finally:
                self.waiting -= 1
                self._on_waiting_changed()
        try:
            return await asyncio.wrap_future(self._executor.submit(function, *args))
        finally:
            self._release()

    def _release(self):
        """Hand a finished job's place to the next job waiting, if any."""
        for waiting in self._waiting:
            while waiting:
                turn = waiting.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._submitted -= 1
