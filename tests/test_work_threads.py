"""Each kind of blocking work runs on threads of its own, no more of them at once than asked."""

import asyncio
import os
import sys
import threading
import time

import pytest

from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from screener_crawler import work_threads
from screener_crawler.extensions.background_priority import BackgroundPriority, background_niceness
from screener_crawler.work_threads import (
    BACKGROUND_KINDS, BACKGROUND_NICENESS, PAGE_READS, PARTITION_WRITES, PUBLISHING, RATIO_PASS, STAGING, VALIDATION,
    run_on, set_background_niceness,
)


class Running:
    """Records the threads that ran a call and the most calls running at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.threads = set()

    def __call__(self, seconds):
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.threads.add(threading.get_ident())
        time.sleep(seconds)
        with self._lock:
            self.now -= 1
        return threading.get_ident()


def test_a_kind_runs_at_most_its_threads_at_once_and_on_threads_no_other_kind_uses():
    reads, staging, publishing = Running(), Running(), Running()

    async def work():
        await asyncio.gather(*[run_on(PAGE_READS, reads, 0.05, threads=2) for _ in range(8)],
                             *[run_on(STAGING, staging, 0.05) for _ in range(4)],
                             *[run_on(PUBLISHING, publishing, 0.05) for _ in range(2)])

    asyncio.run(work())
    assert reads.most == 2 and len(reads.threads) == 2
    assert staging.most == 1 and len(staging.threads) == 1
    assert publishing.most == 1 and len(publishing.threads) == 1
    assert not reads.threads & staging.threads and not staging.threads & publishing.threads
    assert threading.get_ident() not in reads.threads | staging.threads | publishing.threads


def test_the_threads_of_a_kind_are_kept_from_one_event_loop_to_the_next():
    first = asyncio.run(run_on(STAGING, threading.get_ident))
    second = asyncio.run(run_on(STAGING, threading.get_ident))
    assert first == second
    assert work_threads.executor(STAGING) is work_threads.executor(STAGING)


def test_a_kind_asked_for_another_number_of_threads_runs_that_many_at_once():
    first, second = Running(), Running()

    async def work(running, threads):
        await asyncio.gather(*[run_on(VALIDATION, running, 0.05, threads=threads) for _ in range(6)])

    asyncio.run(work(first, 1))
    asyncio.run(work(second, 3))
    assert first.most == 1 and second.most == 3
    assert work_threads.executor(VALIDATION, 3) is work_threads.executor(VALIDATION, 3)


def test_an_error_in_the_work_is_raised_to_the_caller():
    def fails():
        raise ValueError(f"bad page read on {threading.get_ident()}")

    async def work():
        try:
            await run_on(PAGE_READS, fails, threads=2)
        except ValueError as error:
            return str(error)

    message = asyncio.run(work())
    assert message.startswith("bad page read on ") and message != f"bad page read on {threading.get_ident()}"


def _thread_niceness():
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _niceness_of_each_kind():
    async def work():
        return {kind: await run_on(kind, _thread_niceness)
                for kind in (*BACKGROUND_KINDS, PAGE_READS, STAGING, VALIDATION)}
    return asyncio.run(work())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread has a nice value of its own on Linux only")
def test_work_with_slack_runs_at_the_niceness_set_and_the_work_every_request_waits_for_at_the_process_s():
    assert set(BACKGROUND_KINDS) == {PUBLISHING, PARTITION_WRITES, RATIO_PASS}
    process = _thread_niceness()
    if process + BACKGROUND_NICENESS > 19:
        pytest.skip("the tests run at too low a priority to be made 10 nicer")
    try:
        for niceness in (BACKGROUND_NICENESS, 3, 0):
            set_background_niceness(niceness)
            found = _niceness_of_each_kind()
            assert {found[kind] for kind in BACKGROUND_KINDS} == {process + niceness}, niceness
            assert {found[kind] for kind in (PAGE_READS, STAGING, VALIDATION)} == {process}
    finally:
        set_background_niceness(0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread has a nice value of its own on Linux only")
def test_a_background_thread_started_by_another_one_is_as_nice_as_the_setting_not_nicer():
    process = _thread_niceness()
    if process + 4 > 19:
        pytest.skip("the tests run at too low a priority to be made 4 nicer")

    async def from_a_publishing_thread():
        return await run_on(PUBLISHING, lambda: work_threads.executor(PARTITION_WRITES).submit(_thread_niceness).result())

    try:
        set_background_niceness(4)
        assert asyncio.run(from_a_publishing_thread()) == process + 4
    finally:
        set_background_niceness(0)


@pytest.mark.parametrize("rate, setting, expected", [
    ("100", "", BACKGROUND_NICENESS), ("0.083", None, BACKGROUND_NICENESS), ("0", "", 0), ("0", "5", 5), ("100", "0", 0),
])
def test_the_background_niceness_is_the_setting_or_else_lower_only_under_a_rate_cap(rate, setting, expected):
    settings = Settings({"POLYGON_RATE_LIMIT": rate, "SCREENER_BACKGROUND_NICENESS": setting})
    assert background_niceness(settings) == expected


def test_a_crawl_sets_the_background_niceness():
    assert get_project_settings().getdict("EXTENSIONS").get(f"{BackgroundPriority.__module__}.BackgroundPriority") == 0
