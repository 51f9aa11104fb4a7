"""ValidationPipeline keeps items in order when a big batch is coerced in a thread, and the
field coverage comes from the validated tables."""

import asyncio
import threading

from scrapy.utils.test import get_crawler

from screener_crawler.extensions.field_coverage import DatasetFieldCoverage
from screener_crawler.items import RecordBatch, UnitComplete
from screener_crawler.pipelines import validation
from screener_crawler.pipelines.validation import ValidationPipeline


def _related(n, ticker="AAPL"):
    return [{"ticker": ticker, "related_ticker": f"R{i}", "rank": i} for i in range(n)]


def test_a_marker_never_overtakes_a_batch_validated_in_a_thread(monkeypatch):
    crawler = get_crawler(settings_dict={})
    crawler.stats.open_spider()
    pipeline = ValidationPipeline(crawler.stats, thread_rows=100)
    threads = []
    coerce = validation.coerce_records

    def slow_coerce(dataset, records):
        threads.append(threading.current_thread())
        return coerce(dataset, records)

    monkeypatch.setattr(validation, "coerce_records", slow_coerce)
    left = []

    async def through(item):
        left.append(await pipeline.process_item(item))

    big = RecordBatch("related_tickers", _related(500))
    small = RecordBatch("related_tickers", _related(3, "MSFT"))
    marker = UnitComplete("related_tickers", "AAPL")

    async def main():
        await asyncio.gather(through(big), through(marker), through(small))

    asyncio.run(main())
    assert left == [big, marker, small]
    assert threads[0] is not threading.main_thread()
    assert threads[1] is threading.main_thread()
    assert big.table.num_rows == 500 and big.records == []


def test_field_coverage_is_the_share_of_valid_records_with_a_value():
    crawler = get_crawler(settings_dict={"SCREENER_FIELD_COVERAGE": True})
    crawler.stats.open_spider()
    coverage = DatasetFieldCoverage(crawler)
    pipeline = ValidationPipeline(crawler.stats)
    records = _related(3) + [{"ticker": "AAPL", "related_ticker": "X", "rank": None},
                             {"ticker": "AAPL", "related_ticker": "Y", "rank": "first"}]
    batch = asyncio.run(pipeline.process_item(RecordBatch("related_tickers", records)))
    coverage.item_scraped(batch)
    coverage.spider_closed()
    assert crawler.stats.get_value("fields_coverage/related_tickers") == {
        "ticker": "100.0%", "related_ticker": "100.0%", "rank": "75.0%",
    }
