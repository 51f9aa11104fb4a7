"""scrapy-fieldstats counts the crawl's record batches per dataset, from their Arrow null counts,
and each of its settings keeps the meaning its README gives it."""

import asyncio
import logging

import pytest
from scrapy import Spider, signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from screener_crawler import settings as project_settings
from screener_crawler.extensions.field_stats import DatasetFieldStats
from screener_crawler.items import RecordBatch, UnitsComplete
from screener_crawler.pipelines.validation import ValidationPipeline

FIELDSTATS_DEFAULTS = {name: getattr(project_settings, name) for name in dir(project_settings)
                       if name.startswith("FIELDSTATS_")}


def crawl_with(batches, **settings):
    """Send ``batches`` (validated first) through the item_scraped signal to the extension
    built from the project's FIELDSTATS_* defaults and ``settings``, then close the spider;
    the crawler's stats."""
    # No other extension: Scrapy's core stats would want a spider_opened first.
    crawler = get_crawler(Spider, settings_dict={**FIELDSTATS_DEFAULTS, "EXTENSIONS_BASE": {}, **settings})
    crawler.stats.open_spider()
    extension = DatasetFieldStats.from_crawler(crawler)
    spider = Spider.from_crawler(crawler, name="field_stats_test")
    pipeline = ValidationPipeline(crawler.stats)
    for batch in batches:
        item = asyncio.run(pipeline.process_item(batch)) if isinstance(batch, RecordBatch) else batch
        crawler.signals.send_catch_log(signals.item_scraped, item=item, response=None, spider=spider)
    crawler.signals.send_catch_log(signals.spider_closed, spider=spider, reason="finished")
    assert extension.item_count == sum(b.table.num_rows for b in batches if isinstance(b, RecordBatch))
    return crawler.stats


def related(*ranks, ticker="AAPL"):
    return RecordBatch("related_tickers", [{"ticker": ticker, "related_ticker": f"R{i}", "rank": rank}
                                           for i, rank in enumerate(ranks)])


def dividends(*amounts):
    return RecordBatch("dividends", [{"ticker": "AAPL", "ex_dividend_date": f"2024-0{i + 1}-15",
                                      "cash_amount": amount, "source": "v1"} for i, amount in enumerate(amounts)])


def test_coverage_is_each_columns_share_of_the_datasets_valid_rows():
    invalid_rank = related(1, None, "first")  # "first" is no int: that record is dropped, not counted
    stats = crawl_with([invalid_rank, related(2, ticker="MSFT"), UnitsComplete(()), dividends(0.2, None, None, None)])
    assert stats.get_value("fields_coverage/related_tickers") == {
        "ticker": "100.0%", "related_ticker": "100.0%", "rank": "66.7%"}
    dividend_coverage = stats.get_value("fields_coverage/dividends")
    assert dividend_coverage["cash_amount"] == "25.0%" and dividend_coverage["ticker"] == "100.0%"


def test_fieldstats_enabled_off_turns_the_extension_off():
    crawler = get_crawler(Spider, settings_dict={**FIELDSTATS_DEFAULTS, "FIELDSTATS_ENABLED": False})
    with pytest.raises(NotConfigured):
        DatasetFieldStats.from_crawler(crawler)


def test_counts_only_gives_rows_with_a_value_instead_of_shares():
    stats = crawl_with([related(1, None, 3), related(None)], FIELDSTATS_COUNTS_ONLY=True)
    assert stats.get_value("fields_coverage/related_tickers") == {"ticker": 4, "related_ticker": 4, "rank": 2}


def test_skip_none_off_counts_a_null_as_a_value():
    stats = crawl_with([related(1, None, None, None)], FIELDSTATS_SKIP_NONE=False)
    assert stats.get_value("fields_coverage/related_tickers")["rank"] == "100.0%"
    assert crawl_with([related(1, None, None, None)]).get_value("fields_coverage/related_tickers")["rank"] == "25.0%"


def test_add_to_stats_off_keeps_coverage_out_of_the_stats_and_in_the_debug_log(caplog):
    with caplog.at_level(logging.DEBUG, logger="screener_crawler.extensions.field_stats"):
        stats = crawl_with([related(1, None)], FIELDSTATS_ADD_TO_STATS=False)
    assert not [key for key in stats.get_stats() if key.startswith("fields_coverage")]
    [record] = [r for r in caplog.records if r.name == "screener_crawler.extensions.field_stats"]
    assert record.levelno == logging.DEBUG and "'rank': '50.0%'" in record.getMessage()
