"""The progress line's ETA (extensions/progress.py)."""

import logging

from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from screener_crawler.extensions import progress
from screener_crawler.extensions.progress import CrawlProgress


def etas(monkeypatch, caplog, timeline, planned=1000):
    """The ETA of each progress line logged at (seconds, units done) of ``timeline``."""
    clock = iter([0.0, *(seconds for seconds, _ in timeline)])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    stats = MemoryStatsCollector(get_crawler())
    stats.set_value("units/planned", planned)
    extension = CrawlProgress(stats, 5)
    extension.started()
    with caplog.at_level(logging.INFO, logger=progress.__name__):
        for _, done in timeline:
            stats.set_value("units/complete/balance_sheets", done)
            extension.tick()
    return [record.getMessage().rsplit("ETA ", 1)[1] for record in caplog.records]


def test_the_eta_follows_the_recent_rate_not_the_quick_start(monkeypatch, caplog):
    # 900 quick units in the first minute, then 5 a minute: 90 left at 5 a minute is 18 minutes
    timeline = [(60, 900), (120, 905), (180, 910), (240, 915), (300, 920)]
    assert etas(monkeypatch, caplog, timeline)[-1] == "0:16:00"


def test_no_unit_ended_recently_gives_an_unknown_eta_and_none_left_gives_zero(monkeypatch, caplog):
    timeline = [(60, 500), (200, 500), (340, 500), (400, 1000)]
    assert etas(monkeypatch, caplog, timeline)[2:] == ["unknown", "0:00:00"]
