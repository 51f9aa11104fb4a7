"""The worker processes that write Parquet and compute ratios beside the crawl."""

import asyncio
import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from scrapy import signals
from scrapy.utils.test import get_crawler

from screener_crawler.workers import WorkerPool, worker_pool
from tests.crawl import PROJECT_ROOT
from tests.worker_probe import frameworks_loaded_by


def fail_with_full_disk():
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_one_key_runs_in_one_process_and_lanes_in_different_ones():
    pool = WorkerPool(2)
    try:
        async def pids():
            by_key = [await pool.run(("daily_prices", "AAPL"), os.getpid) for _ in range(3)]
            lanes = await asyncio.gather(pool.run(0, os.getpid), pool.run(1, os.getpid))
            return by_key, lanes
        by_key, lanes = asyncio.run(pids())
    finally:
        pool.shutdown()
    assert len(set(by_key)) == 1 and by_key[0] != os.getpid()
    assert len(set(lanes)) == 2 and os.getpid() not in lanes


def pid_after(pause):
    time.sleep(pause)
    return os.getpid()


@pytest.mark.parametrize("busy_lane", (0, 1))
def test_a_job_without_a_key_goes_to_the_process_with_the_fewest_jobs(busy_lane):
    pool = WorkerPool(2)
    try:
        async def pids():
            await asyncio.gather(pool.run(0, pid_after, 0), pool.run(1, pid_after, 0))
            long_job = asyncio.ensure_future(pool.run(busy_lane, pid_after, 1.5))
            await asyncio.sleep(0.1)
            started = time.monotonic()
            quick = [await pool.run(None, pid_after, 0) for _ in range(4)]
            quick_seconds = time.monotonic() - started
            return await long_job, quick, quick_seconds
        busy, quick, quick_seconds = asyncio.run(pids())
    finally:
        pool.shutdown()
    assert busy not in quick
    assert quick_seconds < 1.0


def test_a_worker_loads_neither_scrapy_nor_twisted_for_its_jobs():
    """Each would add 33 MB to every worker process."""
    pool = WorkerPool(1)
    try:
        loaded = asyncio.run(pool.run(0, frameworks_loaded_by, "screener_crawler.storage",
                                      "screener_crawler.polygon.pages", "screener_crawler.polygon.parsers",
                                      "screener_crawler.ratios.source", "screener_crawler.ratios.latest"))
    finally:
        pool.shutdown()
    assert loaded == []


def started_at(pause=0.0):
    """When the job started (a clock every process shares), after ``pause`` seconds."""
    started = time.monotonic()
    time.sleep(pause)
    return started


def test_an_urgent_job_goes_before_the_waiting_jobs_that_are_not():
    pool = WorkerPool(1)
    try:
        async def starts():
            jobs = [pool.run("lane", started_at, 0.3)]
            jobs += [pool.run("lane", started_at) for _ in range(4)]
            jobs.append(pool.run("lane", started_at, urgent=True))
            return await asyncio.gather(*jobs)
        slow, *ordinary, urgent = asyncio.run(starts())
    finally:
        pool.shutdown()
    assert slow < ordinary[0] < urgent
    assert urgent < min(ordinary[1:])
    assert ordinary[1:] == sorted(ordinary[1:])


def interrupted_then_done(pause):
    """Send this process a SIGINT, as Ctrl-C sends one to the whole process group, then finish."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(pause)
    return "done"


def test_room_for_jobs_waits_until_some_worker_has_fewer_jobs_waiting():
    pool = WorkerPool(2)
    try:
        async def room():
            await asyncio.wait_for(pool.room_for_jobs(1), 1)
            jobs = {lane: [asyncio.ensure_future(pool.run(lane, started_at, 0.2)) for _ in range(5)]
                    for lane in (0, 1)}
            await asyncio.sleep(0)
            waiting_before = pool.jobs_waiting()
            await pool.room_for_jobs(2)
            room_at, shortest_after = time.monotonic(), pool.shortest_queue()
            starts = {lane: await asyncio.gather(*lane_jobs) for lane, lane_jobs in jobs.items()}
            return waiting_before, room_at, shortest_after, starts
        waiting_before, room_at, shortest_after, starts = asyncio.run(room())
    finally:
        pool.shutdown()
    # each worker is sent two jobs at once (JobQueue.IN_FLIGHT), and its fourth when its second ends
    assert waiting_before == 6 and shortest_after == 1
    assert room_at >= min(starts[0][1], starts[1][1]) + 0.2
    assert pool.most_jobs_waiting == 6


def test_a_worker_busy_with_a_long_job_leaves_room_while_another_has_none_waiting():
    pool = WorkerPool(2)
    try:
        async def room():
            jobs = [asyncio.ensure_future(pool.run(0, started_at, 0.5)) for _ in range(5)]
            await asyncio.sleep(0)
            asked = time.monotonic()
            await asyncio.wait_for(pool.room_for_jobs(2), 5)
            waited = time.monotonic() - asked
            await asyncio.gather(*jobs)
            return waited
        waited = asyncio.run(room())
    finally:
        pool.shutdown()
    assert waited < 0.25


def test_ctrl_c_does_not_interrupt_a_worker_s_job():
    pool = WorkerPool(1)
    try:
        assert asyncio.run(pool.run("unit", interrupted_then_done, 0.2)) == "done"
    finally:
        pool.shutdown()


def test_a_full_disk_in_a_worker_reaches_the_crawl_as_enospc():
    pool = WorkerPool(1)
    try:
        with pytest.raises(OSError) as raised:
            asyncio.run(pool.run("unit", fail_with_full_disk))
    finally:
        pool.shutdown()
    assert raised.value.errno == errno.ENOSPC


def test_no_processes_means_threads_of_the_crawl():
    pool = WorkerPool(0)
    assert asyncio.run(pool.run("unit", os.getpid)) == os.getpid()


def test_workers_run_at_the_lower_cpu_priority_the_setting_asks_for():
    crawler = get_crawler(settings_dict={"SCREENER_WORKER_PROCESSES": 2, "SCREENER_WORKER_NICENESS": 3})
    pool = worker_pool(crawler)
    try:
        async def niceness():
            return await asyncio.gather(pool.run(0, os.nice, 0), pool.run(1, os.nice, 0))
        workers = asyncio.run(niceness())
    finally:
        pool.shutdown()
    assert workers == [min(19, os.nice(0) + 3)] * 2


def test_the_workers_exit_in_a_thread_so_the_reactor_keeps_running():
    crawler = get_crawler(settings_dict={"SCREENER_WORKER_PROCESSES": 1})
    crawler.stats.open_spider()
    pool = worker_pool(crawler)

    async def close_while_ticking():
        assert await pool.run("k", os.getpid) != os.getpid()
        last_job = asyncio.ensure_future(pool.run("k", time.sleep, 0.5))
        await asyncio.sleep(0.05)
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.ensure_future(tick())
        await crawler.signals.send_catch_log_async(signal=signals.spider_closed, spider=None, reason="finished")
        ticker.cancel()
        await last_job
        return ticks

    assert asyncio.run(close_while_ticking()) > 20
    assert pool.processes and not pool._executors
    assert "cpu/worker_processes_seconds" in crawler.stats.get_stats()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_exit_when_the_crawl_is_killed():
    code = ("import asyncio, os, time; from screener_crawler.workers import WorkerPool; pool = WorkerPool(1); "
            "print(asyncio.run(pool.run('k', os.getpid)), flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    assert _alive(worker)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            os.waitpid(worker, os.WNOHANG)
        except ChildProcessError:
            pass
    assert not _alive(worker)


def burn_cpu(seconds):
    started = time.process_time()
    while time.process_time() - started < seconds:
        pass


def test_the_stats_get_the_cpu_seconds_of_the_workers_apart_from_the_crawls():
    code = ("import asyncio, json; from scrapy import signals; from scrapy.utils.test import get_crawler; "
            "from screener_crawler.workers import worker_pool; from tests.test_workers import burn_cpu; "
            "crawler = get_crawler(settings_dict={'SCREENER_WORKER_PROCESSES': 1}); crawler.stats.open_spider(); "
            "asyncio.run(worker_pool(crawler).run('k', burn_cpu, 3.0)); "
            "asyncio.run(crawler.signals.send_catch_log_async(signal=signals.spider_closed, spider=None, "
            "reason='finished')); "
            "print(json.dumps(crawler.stats.get_stats()))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    assert stats["cpu/worker_processes_seconds"] >= 3
    assert stats["cpu/crawl_process_seconds"] < stats["cpu/worker_processes_seconds"]
