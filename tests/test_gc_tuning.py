"""The crawl's garbage-collector settings (issue 6: the reactor is never blocked over 100 ms)."""

import gc

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from screener_crawler.extensions.gc_tuning import CrawlGarbageCollection


def extension(thresholds):
    return CrawlGarbageCollection.from_crawler(get_crawler(settings_dict={"SCREENER_GC_THRESHOLDS": thresholds}))


def collections_during(work):
    passes = []

    def count(phase, info):
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(count)
    try:
        work()
    finally:
        gc.callbacks.remove(count)
    return passes


def short_lived_containers():
    held = []
    for number in range(20_000):
        held.append([number])
    held.clear()


def test_while_the_spider_is_open_short_lived_objects_die_before_a_collection_looks_at_them():
    before = gc.get_threshold()
    tuning = extension([50000, 20, 100])
    tuning.spider_opened()
    try:
        assert gc.get_threshold() == (50000, 20, 100)
        assert gc.get_freeze_count() > 0
        during_crawl = collections_during(short_lived_containers)
    finally:
        tuning.spider_closed()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    gc.set_threshold(700, 10, 10)
    try:
        with_defaults = collections_during(short_lived_containers)
    finally:
        gc.set_threshold(*before)
    assert during_crawl == [] and len(with_defaults) >= 20


def test_cycles_made_during_the_crawl_are_still_collected():
    tuning = extension([50000, 20, 100])
    tuning.spider_opened()
    try:
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        tuning.spider_closed()


@pytest.mark.parametrize("thresholds", [[], "", [""]])
def test_no_thresholds_leaves_the_collector_alone(thresholds):
    """``-s SCREENER_GC_THRESHOLDS=`` on the command line arrives as an empty string."""
    with pytest.raises(NotConfigured):
        extension(thresholds)


@pytest.mark.parametrize("thresholds", [[50000, 20], [0, 10, 10], ["many", 10, 10], "50000,20,10,5"])
def test_thresholds_that_are_not_three_positive_integers_are_refused_naming_the_value_given(thresholds):
    with pytest.raises(ValueError, match="SCREENER_GC_THRESHOLDS") as refusal:
        extension(thresholds)
    first_value = thresholds.split(",")[0] if isinstance(thresholds, str) else str(thresholds[0])
    assert first_value in str(refusal.value)
