"""Freed blocks of a page body's size go back to the system (allocator.py), in the crawl's
process and in its worker processes."""

import asyncio
import platform
import subprocess
import sys

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from screener_crawler.extensions.malloc_threshold import MallocThreshold
from screener_crawler.workers import WorkerPool
from tests.crawl import PROJECT_ROOT

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")

PAGE_BODIES_MB = 180


def memory_kept_after_pages(rounds=3, pages=60, size=3_000_000):
    """MB of resident memory the calling process keeps after holding ``pages`` page bodies of
    ``size`` bytes and freeing them, ``rounds`` times, each body leaving a small object that
    outlives it (as a page leaves its items)."""
    def resident():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096

    before, outliving = resident(), []
    for _ in range(rounds):
        bodies = []
        for number in range(pages):
            bodies.append(bytearray(size))
            outliving.append(bytes(2000 + number))
        del bodies
    return (resident() - before) / 2**20


def kept_in_a_new_process(threshold):
    code = ("from screener_crawler.allocator import fix_mmap_threshold; "
            "from tests.test_allocator import memory_kept_after_pages; "
            f"fix_mmap_threshold({threshold}); print(memory_kept_after_pages())")
    run = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return float(run.stdout)


def test_a_fixed_threshold_gives_freed_page_bodies_back_where_glibc_own_keeps_them():
    assert kept_in_a_new_process(0) > PAGE_BODIES_MB / 2
    assert kept_in_a_new_process(1 << 20) < 20


def kept_in_a_worker(pool):
    try:
        return asyncio.run(pool.run(0, memory_kept_after_pages))
    finally:
        pool.shutdown()


def test_worker_processes_start_with_the_threshold_they_are_given():
    assert kept_in_a_worker(WorkerPool(1)) > PAGE_BODIES_MB / 2
    assert kept_in_a_worker(WorkerPool(1, mmap_threshold=1 << 20)) < 20


def test_the_crawl_process_fixes_its_threshold_unless_the_setting_is_zero():
    crawler = get_crawler(settings_dict={"SCREENER_MALLOC_MMAP_THRESHOLD": 1 << 20})
    MallocThreshold.from_crawler(crawler)
    assert crawler.stats.get_value("memory/malloc_mmap_threshold") == 1 << 20
    with pytest.raises(NotConfigured):
        MallocThreshold.from_crawler(get_crawler(settings_dict={"SCREENER_MALLOC_MMAP_THRESHOLD": 0}))
