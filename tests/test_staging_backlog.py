"""The staging pipeline under load: rows waiting to be staged hold the crawl's next requests
once they pass ``SCREENER_STAGING_BACKLOG_BYTES``, and let them go once staged; units that come
while a group is being written go together into the next."""

import asyncio
import threading
from types import SimpleNamespace

import pyarrow as pa
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from screener_crawler.datasets import DATASETS
from screener_crawler.items import DatasetUnit, DatasetUnits, UnitsStaged
from screener_crawler.middlewares.staging_backlog import StagingBacklogMiddleware
from screener_crawler.pipelines.staging import StagingPipeline, _rows_bytes
from screener_crawler.storage.tables import by_ticker


def related_rows(ticker, count):
    schema = DATASETS["related_tickers"].schema
    return pa.Table.from_pylist([{"ticker": ticker, "related_ticker": f"R{i}"} for i in range(count)], schema=schema)


def staging_pipeline(tmp_path, backlog_bytes):
    crawler = get_crawler(settings_dict={"SCREENER_DATA_DIR": str(tmp_path), "SCREENER_STAGING_DELAY": 0.01,
                                         "SCREENER_STAGING_BACKLOG_BYTES": backlog_bytes})
    crawler.stats.open_spider()
    return crawler, StagingPipeline.from_crawler(crawler)


def hold_the_staging_thread(pipeline):
    """Staging waits for the returned event; it then stages as usual."""
    release, stage = threading.Event(), pipeline._stage_waiting
    pipeline._stage_waiting = lambda waiting: release.wait(10) and stage(waiting)
    return release


async def requests_wait_while_rows_wait_to_be_staged(tmp_path, backlog_bytes, rows):
    crawler, pipeline = staging_pipeline(tmp_path, backlog_bytes)
    crawler.engine = SimpleNamespace(scraper=SimpleNamespace(itemproc=SimpleNamespace(middlewares=(pipeline,))))
    middleware = StagingBacklogMiddleware.from_crawler(crawler)
    release = hold_the_staging_thread(pipeline)
    staged = asyncio.ensure_future(pipeline.process_item(DatasetUnits([DatasetUnit("related_tickers", "AAA",
                                                                                   related_rows("AAA", rows))])))
    await asyncio.sleep(0.05)
    request = asyncio.ensure_future(middleware.process_request(Request("http://127.0.0.1/x")))
    await asyncio.sleep(0.2)
    held = not request.done()
    release.set()
    result = await asyncio.wait_for(staged, 10)
    assert await asyncio.wait_for(request, 10) is None
    assert isinstance(result, UnitsStaged) and result.units[0].rows == rows
    return held, crawler.stats.get_value("staging/requests_held", 0)


def test_a_request_waits_while_more_rows_than_the_limit_wait_to_be_staged(tmp_path):
    held, counted = asyncio.run(requests_wait_while_rows_wait_to_be_staged(tmp_path, backlog_bytes=100, rows=50))
    assert held and counted == 1


def test_a_request_goes_on_while_the_rows_waiting_are_within_the_limit(tmp_path):
    held, counted = asyncio.run(requests_wait_while_rows_wait_to_be_staged(tmp_path, backlog_bytes=10_000_000,
                                                                           rows=50))
    assert not held and counted == 0


def test_no_limit_holds_nothing(tmp_path):
    held, _ = asyncio.run(requests_wait_while_rows_wait_to_be_staged(tmp_path, backlog_bytes=0, rows=50))
    assert not held


async def units_that_come_while_a_group_is_written(tmp_path):
    _, pipeline = staging_pipeline(tmp_path, backlog_bytes=0)
    release = hold_the_staging_thread(pipeline)
    items = []
    for ticker in ("AAA", "BBB", "CCC"):
        items.append(asyncio.ensure_future(pipeline.process_item(
            DatasetUnits([DatasetUnit("related_tickers", ticker, related_rows(ticker, 3))]))))
        await asyncio.sleep(0.1)  # past SCREENER_STAGING_DELAY: each is flushed on its own
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*items), 10)
    return [result.units[0].rows for result in results], sorted(path.name for path in pipeline._area.directory.iterdir())


def test_units_that_come_while_a_group_is_written_go_together_into_the_next(tmp_path):
    rows, files = asyncio.run(units_that_come_while_a_group_is_written(tmp_path))
    assert rows == [3, 3, 3]
    assert len(files) == 2, files  # AAA alone, then BBB and CCC in one file


def dividend_rows(ticker, count):
    return pa.Table.from_pylist([{"ticker": ticker, "source": "polygon"} for _ in range(count)],
                                schema=DATASETS["dividends"].schema)


def test_the_bytes_counted_for_units_cut_from_pages_are_their_rows_bytes():
    """Units cut per ticker from the pages of two datasets whose rows differ in width, as a
    response brings them, and an empty unit: the bytes counted are within 2 % of the sum of
    each unit's own."""
    pages = {"related_tickers": pa.concat_tables([related_rows(ticker, count) for ticker, count
                                                  in (("AAA", 3), ("BBB", 40), ("CCC", 7))]),
             "dividends": pa.concat_tables([dividend_rows(ticker, count) for ticker, count in (("AAA", 2), ("CCC", 5))])}
    units = [DatasetUnit(dataset, ticker, rows) for dataset, page in pages.items() for ticker, rows in by_ticker(page)]
    units.append(DatasetUnit("dividends", "BBB", DATASETS["dividends"].schema.empty_table()))
    counted = _rows_bytes(DatasetUnits(units))
    exact = sum(unit.table.nbytes for unit in units)
    assert exact > 0 and abs(counted - exact) <= 0.02 * exact, (counted, exact)
