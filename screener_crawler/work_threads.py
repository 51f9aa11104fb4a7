"""The threads a crawl's blocking work runs on, off the reactor's thread: each kind of work has
threads of its own, kept for the life of the process.

Each thread allocates from a malloc arena of its own, and an arena keeps most of what its
thread frees for the next allocation. A shared pool lets every thread do every kind of work, so
each of its arenas grows to the largest work's size (a statements page read, a publish, a ratio
chunk); threads of one kind each keep only the memory that kind needs.
"""

import asyncio
import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

PAGE_READS = "page-read"
"""Reading API pages into tables (``PAGE_READS_AT_ONCE`` threads)."""
STAGING = "staging"
"""Staging units and months."""
PUBLISHING = "publishing"
"""Publishing staged units into the partitions (one publish at a time)."""
PARTITION_WRITES = "partition-write"
"""Writing a publish's partition files while it merges the next (``publishing.PartitionWriter``)."""
RATIO_PASS = "ratio-pass"
"""The ratio pass's chunks (one at a time)."""

VALIDATION = "validation"
"""Coercing the records of a page not read whole (``ValidationPipeline``)."""
LEDGER_WRITES = "ledger-write"
"""Writing the download ledger (one write at a time)."""

BACKGROUND_KINDS = (PUBLISHING, PARTITION_WRITES, RATIO_PASS)
"""Work that has slack under a rate cap: publishing is needed only before the ratio pass, and the
pass only before the downloads end. Their threads can run at a lower CPU priority
(``set_background_niceness``), so that on a busy machine the reactor's thread, the page reads
and staging, which every request waits for, get the CPU first."""
BACKGROUND_NICENESS = 10
"""The niceness ``SCREENER_BACKGROUND_NICENESS`` defaults to under a rate cap."""

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_executors: dict[str, tuple[tuple[int, int], ThreadPoolExecutor]] = {}
"""kind -> ((its number of threads, how much nicer than the process they are), its pool)."""
_background_niceness = 0
_starting = threading.Lock()


def set_background_niceness(niceness: int) -> None:
    """Run the threads of ``BACKGROUND_KINDS`` started from now on ``niceness`` nicer than the
    process (0-19; Linux, where a thread has a nice value of its own; elsewhere they run at the
    process's priority). A kind whose threads run at another niceness gets new ones. One value
    for the process: of several crawlers in it, the last one created sets it. Threads that Arrow
    starts for its own pools keep the niceness of the thread that first used them."""
    global _background_niceness
    _background_niceness = niceness


def executor(kind: str, threads: int = 1) -> ThreadPoolExecutor:
    """The ``threads`` threads of ``kind``, started on first use. Asked for another number, or
    with another background niceness set (a later crawl in the process with other settings),
    the kind gets new threads, and the old ones finish what they were given and end."""
    niceness = _background_niceness if kind in BACKGROUND_KINDS else 0
    wanted = (max(1, threads), niceness)
    with _starting:
        started, pool = _executors.get(kind, (wanted, None))
        if pool is None or started != wanted:
            if pool is not None:
                pool.shutdown(wait=False)
            pool = ThreadPoolExecutor(max_workers=wanted[0], thread_name_prefix=kind,
                                      initializer=_lower_priority if niceness else None, initargs=(niceness,))
            _executors[kind] = (wanted, pool)
        return pool


def _lower_priority(niceness: int) -> None:
    """Make the calling thread ``niceness`` nicer than the process's main thread, whichever thread
    started it (a thread inherits its starter's niceness). Linux only: elsewhere ``setpriority``
    of a thread's id would reach the whole process, or another one."""
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        wanted = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + niceness)
        if wanted > os.getpriority(os.PRIO_PROCESS, thread):
            os.setpriority(os.PRIO_PROCESS, thread, wanted)
    except OSError as error:
        logger.debug("Could not lower the priority of thread %s: %s", threading.current_thread().name, error)


async def run_on(kind: str, func: Callable[..., _T], *args, threads: int = 1) -> _T:
    """``func(*args)`` on a thread of ``kind``; work beyond its ``threads`` waits its turn."""
    return await asyncio.get_running_loop().run_in_executor(executor(kind, threads), functools.partial(func, *args))


os.register_at_fork(after_in_child=_executors.clear)
