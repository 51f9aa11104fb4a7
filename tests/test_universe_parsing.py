"""The universe spider on recorded ticker listings: the active listing page by page along its
``next_url`` cursor (real client-library recordings), then the delisted listing (a sandbox
recording), its rows, and the tickers it hands to ``start`` on the last page."""

import asyncio
from urllib.parse import urlsplit

from screener_crawler.items import RecordBatch, UnitsComplete
from screener_crawler.spiders.universe import UniverseSpider
from tests.recorded import feed, handed_to_start, fixture_json, open_spider, path_and_query, records_of, served_records

ACTIVE_PAGE_1 = "universe/tickers_v3_reference_tickers_page1__py_mock.json"
ACTIVE_PAGE_2 = "universe/tickers_v3_reference_tickers_page2_via_cursor__py_mock.json"
DELISTED = "universe/tickers_v3_active_false__sandbox.json"
LISTING = {"market": "stocks", "type": "CS", "limit": "1000", "sort": "ticker", "order": "asc"}
UNIVERSE_UNITS = (("universe", None),)


def first_request(spider):
    return asyncio.run(anext(spider.start()))


def served_rows(fixture):
    """The recording's records as universe rows: the schema's fields, as served (``cik`` is
    always set, None when not served)."""
    return [{"cik": None, **row} for row in served_records(fixture, "universe")]


def walk_active_listing(spider):
    """The two active pages answered in turn: (page 1's output, page 2's output)."""
    page_1 = feed(first_request(spider), ACTIVE_PAGE_1)
    [cursor_request] = [item for item in page_1 if hasattr(item, "url")]
    return page_1, feed(cursor_request, ACTIVE_PAGE_2)


def test_the_first_request_lists_active_common_stocks_in_ticker_order(tmp_path):
    spider = open_spider(UniverseSpider, tmp_path)
    request = first_request(spider)
    assert path_and_query(request) == ("/v3/reference/tickers", {**LISTING, "active": "true"})
    assert request.callback == spider.parse_universe and request.errback == spider.universe_failed
    assert request.meta["polygon_units"] == UNIVERSE_UNITS and request.meta["polygon_active"] is True
    assert request.dont_filter


def test_a_page_with_a_next_url_becomes_its_rows_then_the_cursor_request_on_the_configured_host(tmp_path):
    spider = open_spider(UniverseSpider, tmp_path)
    output = feed(first_request(spider), ACTIVE_PAGE_1)
    batch, cursor_request = output
    assert isinstance(batch, RecordBatch) and batch.dataset == "universe"
    assert records_of([batch]) == served_rows(ACTIVE_PAGE_1)
    served_next = urlsplit(fixture_json(ACTIVE_PAGE_1)["next_url"])
    assert path_and_query(cursor_request) == ("/v3/reference/tickers",
                                              {"cursor": served_next.query.removeprefix("cursor=")})
    assert cursor_request.callback == spider.parse_universe
    assert cursor_request.meta["polygon_active"] is True
    assert cursor_request.meta["polygon_cursors"] == (served_next.query.removeprefix("cursor="),)
    assert handed_to_start(spider) == []


def test_the_last_active_page_is_followed_by_the_delisted_listing(tmp_path):
    spider = open_spider(UniverseSpider, tmp_path)
    _, page_2 = walk_active_listing(spider)
    batch, delisted_request = page_2
    assert records_of([batch]) == served_rows(ACTIVE_PAGE_2)
    assert records_of([batch])[0]["cik"] is None  # AAA is served without one
    assert path_and_query(delisted_request) == ("/v3/reference/tickers", {**LISTING, "active": "false"})
    assert delisted_request.meta["polygon_active"] is False
    assert delisted_request.meta["polygon_units"] == UNIVERSE_UNITS
    assert not any(isinstance(item, UnitsComplete) for item in page_2)
    assert handed_to_start(spider) == []


def test_the_delisted_listing_completes_the_universe_and_hands_each_ticker_once_to_start(tmp_path):
    spider = open_spider(UniverseSpider, tmp_path)
    _, page_2 = walk_active_listing(spider)
    delisted_request = page_2[-1]
    batch, complete = feed(delisted_request, DELISTED)
    assert records_of([batch]) == served_rows(DELISTED)
    assert {row["active"] for row in records_of([batch])} == {False}
    assert all(row["delisted_utc"] for row in records_of([batch]))
    assert complete == UnitsComplete(UNIVERSE_UNITS)
    served_tickers = [record["ticker"] for fixture in (ACTIVE_PAGE_1, ACTIVE_PAGE_2, DELISTED)
                      for record in fixture_json(fixture)["results"]]
    assert len(served_tickers) > len(set(served_tickers))  # the sandbox repeats delisted symbols
    assert handed_to_start(spider) == [list(dict.fromkeys(served_tickers))]
