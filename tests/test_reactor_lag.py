"""The reactor-lag probe behind issue 6's "never blocked more than 100 ms" measurement."""

import gc
import os
import time

from scrapy.utils.test import get_crawler

from screener_crawler.extensions.reactor_lag import ReactorLag


def probe():
    crawler = get_crawler(settings_dict={"SCREENER_REACTOR_LAG_INTERVAL": 0.05})
    crawler.stats.open_spider()
    return ReactorLag.from_crawler(crawler), crawler.stats


def test_a_late_tick_is_recorded_as_the_worst_lag():
    extension, stats = probe()
    extension.started()
    extension._expected = time.monotonic() - 0.3
    extension.tick()
    extension.tick()
    assert 300 <= stats.get_value("reactor/max_lag_ms") < 1000
    assert stats.get_value("reactor/lags_over_100ms") == 1


def test_ticks_on_time_record_no_lag_over_100ms():
    extension, stats = probe()
    extension.started()
    for _ in range(3):
        extension._expected = time.monotonic()
        extension.tick()
    assert stats.get_value("reactor/max_lag_ms") < 100
    assert not stats.get_value("reactor/lags_over_100ms")


def test_the_longest_garbage_collection_is_recorded_beside_the_lags():
    extension, stats = probe()
    extension.started()
    try:
        cycles = []
        for _ in range(300_000):
            node = []
            node.append(node)
            cycles.append(node)
        del cycles, node
        started = time.perf_counter()
        gc.collect()
        longest_ms = (time.perf_counter() - started) * 1000
    finally:
        extension.spider_closed()
    assert 1 <= stats.get_value("reactor/gc_max_pause_ms") <= 2 * longest_ms + 20
    assert extension.collection not in gc.callbacks



def test_a_collection_over_100ms_is_counted_under_the_generation_it_collected():
    extension, stats = probe()
    extension.started()
    try:
        for generation, pause_s in ((2, 0.25), (1, 0.15), (2, 0.01)):
            extension.collection("start", {"generation": generation})
            extension._collection_started -= pause_s
            extension.collection("stop", {"generation": generation, "collected": 0, "uncollectable": 0})
    finally:
        extension.spider_closed()
    assert stats.get_value("reactor/gc_pauses_over_100ms") == 2
    assert stats.get_value("reactor/gc_pauses_over_100ms/generation_2") == 1
    assert stats.get_value("reactor/gc_pauses_over_100ms/generation_1") == 1
    assert stats.get_value("reactor/gc_max_pause_ms") >= 250

def test_a_lag_spent_waiting_for_a_cpu_is_told_apart_from_one_spent_running():
    extension, stats = probe()
    queue = iter([0.0, 0.25, 0.25])
    extension.cpu_queue_seconds = lambda: next(queue)
    extension.started()
    extension._expected = time.monotonic() - 0.3
    extension.tick()
    assert stats.get_value("reactor/lags_over_100ms") == 1
    assert 50 <= stats.get_value("reactor/max_lag_less_cpu_queue_ms") < 100
    assert stats.get_value("reactor/lags_over_100ms_less_cpu_queue") == 0
    extension._expected = time.monotonic() - 0.3
    extension.tick()
    assert 300 <= stats.get_value("reactor/max_lag_less_cpu_queue_ms") < 1000
    assert stats.get_value("reactor/lags_over_100ms_less_cpu_queue") == 1


def test_the_cpu_queue_wait_is_read_from_the_kernel_where_it_says():
    waited = ReactorLag.cpu_queue_seconds()
    if waited is None:
        assert not os.path.exists("/proc/thread-self/schedstat")
        return
    assert 0 <= waited <= ReactorLag.cpu_queue_seconds()


def test_a_lag_over_100ms_is_logged_with_the_thread_s_cpu_queue_wait_and_running_time(caplog):
    extension, _ = probe()
    queue = iter([0.0, 0.04])
    cpu = iter([(1.0, 0.5), (1.12, 0.53)])
    extension.cpu_queue_seconds = lambda: next(queue)
    extension.thread_cpu_seconds = lambda: next(cpu)
    extension.started()
    extension._expected = time.monotonic() - 0.3
    with caplog.at_level("INFO", logger="screener_crawler.extensions.reactor_lag"):
        extension.tick()
    [record] = caplog.records
    assert "waited 40 ms for a CPU and ran 120 ms in user space and 30 ms in the kernel" in record.getMessage()
    assert record.args[0] >= 300


def test_a_tick_on_time_logs_nothing(caplog):
    extension, _ = probe()
    extension.started()
    extension._expected = time.monotonic()
    with caplog.at_level("INFO", logger="screener_crawler.extensions.reactor_lag"):
        extension.tick()
    assert not caplog.records
