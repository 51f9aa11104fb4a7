"""Pages read off the reactor's thread: the page reader middleware reads a v1 statements page in
a thread, the spider uses what it read without decoding the body again, a body that is not JSON
is retried, and a ticker's daily bars and a grouped daily page are read as columns."""

import asyncio
import json
import threading
import time
from datetime import date

import pytest
from scrapy.core.scraper import Slot
from scrapy.http import Request, TextResponse
from scrapy.utils.test import get_crawler

from screener_crawler import settings as project_settings
from screener_crawler.items import PartitionComplete, RecordBatch, UnitsComplete
from screener_crawler.middlewares.page_reader import PageReaderMiddleware
from screener_crawler.middlewares.retry import PolygonRetryMiddleware
from screener_crawler.polygon import pages
from screener_crawler.polygon.pages import PAGE_READ, PAGE_READER, PageReader, read_page
from screener_crawler.coercion import coerce_records
from screener_crawler.polygon.parsers import ParsedRow, daily_bar_row, daily_bars_page_columns
from screener_crawler.spiders import base
from screener_crawler.spiders.fundamentals import FundamentalsSpider
from screener_crawler.spiders.prices import PricesSpider
from tests.recorded import FIXTURES

BASE = "http://127.0.0.1:1"
BALANCE_SHEETS = "balance_sheets_stocks_financials_v1__openapi_example.json"
DAILY_BARS = "aggs_v2_range_1_day_AAPL_2005-04-01_2005-04-04__py_mock.json"
GROUPED_DAILY = "aggs_v2_grouped_daily_us_stocks_2005-04-04__py_mock.json"


def rows_naming_their_thread(payload):
    """A page reader's rows that say which thread made them."""
    return [ParsedRow("related_tickers", {"ticker": "AAPL", "related_ticker": f"T{threading.get_ident()}", "rank": 1})]


@pytest.fixture
def crawler():
    settings = {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}
    settings.update(POLYGON_BASE_URL=BASE, BACKOFF_JITTER=0.0)
    crawler = get_crawler(FundamentalsSpider, settings)
    crawler.spider = crawler._create_spider(tickers="AAPL,MSFT")
    crawler.stats.open_spider()
    return crawler


def statements_request(crawler, dataset="balance_sheets"):
    [request] = crawler.spider.requests({dataset: ["AAPL", "MSFT"]})
    return request


def respond(request, body):
    return TextResponse(request.url, body=body, encoding="utf-8", request=request)


def through_middleware(crawler, request, response):
    return asyncio.run(PageReaderMiddleware(reads_at_once=2).process_response(request, response))


def test_the_spider_names_a_page_reader_for_v1_statements(crawler):
    reader = statements_request(crawler).meta[PAGE_READER]
    assert reader.args == ("balance_sheets", ("AAPL", "MSFT"))


def test_a_page_is_read_in_a_thread(crawler):
    request = Request(f"{BASE}/v1/related-companies/AAPL",
                      meta={PAGE_READER: PageReader(rows_naming_their_thread)})
    through_middleware(crawler, request, respond(request, b'{"results": []}'))
    [batch] = request.meta[PAGE_READ].batches
    reader_thread = batch.table.column("related_ticker")[0].as_py()
    assert reader_thread.startswith("T") and reader_thread != f"T{threading.get_ident()}"


def test_the_spider_takes_the_read_tables_without_reading_the_body_again(crawler, monkeypatch):
    request = statements_request(crawler)
    response = respond(request, (FIXTURES / BALANCE_SHEETS).read_bytes())
    in_process = read_page(request.meta[PAGE_READER], response.body)
    response = through_middleware(crawler, request, response)

    def read_again(*_):
        raise AssertionError("the page was read twice")

    monkeypatch.setattr(base, "read_page", read_again)
    items = list(crawler.spider.parse_read_page(response))
    [batch] = [item for item in items if isinstance(item, RecordBatch)]
    assert batch.table.num_rows == 1
    assert batch.table.equals(in_process.batches[0].table)
    assert [i.units for i in items if isinstance(i, UnitsComplete)] == \
        [(("balance_sheets", "AAPL"), ("balance_sheets", "MSFT"))]
    assert PAGE_READ not in response.meta


def test_a_page_read_is_passed_on_without_its_body(crawler):
    """Scrapy sends no request while the bodies of the responses in its pipelines exceed
    SCRAPER_SLOT_MAX_ACTIVE_SIZE: a read page's body must not count there."""
    request = statements_request(crawler)
    response = respond(request, (FIXTURES / BALANCE_SHEETS).read_bytes())
    passed_on = through_middleware(crawler, request, response)
    assert passed_on.body == b"" and len(response.body) > 1000
    assert (type(passed_on), passed_on.status, passed_on.url) == (type(response), response.status, response.url)
    assert passed_on.meta[PAGE_READ] is not None
    slot = Slot(max_active_size=len(response.body))
    slot.add_response_request(passed_on, request)
    assert slot.active_size == Slot.MIN_RESPONSE_SIZE and not slot.needs_backout()


def test_a_page_that_is_not_json_is_retried_and_the_retry_carries_no_stale_read(crawler):
    request = statements_request(crawler)
    response = respond(request, (FIXTURES / BALANCE_SHEETS).read_bytes()[:500])
    assert through_middleware(crawler, request, response).body == response.body
    assert request.meta[PAGE_READ] is None
    retry = PolygonRetryMiddleware.from_crawler(crawler).process_response(request, response)
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    assert PAGE_READ not in retry.meta
    assert crawler.stats.get_value("retry/reason_count/invalid JSON") == 1


def test_a_spider_given_a_page_that_is_not_json_says_so(crawler):
    request = statements_request(crawler)
    with pytest.raises(ValueError, match="not JSON"):
        list(crawler.spider.parse_read_page(respond(request, b'{"results": [')))


def test_a_ticker_s_daily_bars_are_read_by_a_page_reader():
    settings = {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}
    settings.update(POLYGON_BASE_URL=BASE, PRICES_START="2005-04-01", PRICES_END="2005-04-04")
    crawler = get_crawler(PricesSpider, settings)
    spider = crawler._create_spider(tickers="AAPL")
    crawler.stats.open_spider()
    request = next(iter(spider.requests({"daily_prices": ["AAPL"]})))
    assert request.callback == spider.parse_read_page
    page = read_page(request.meta[PAGE_READER], (FIXTURES / DAILY_BARS).read_bytes())
    [batch] = page.batches
    assert batch.dataset == "daily_prices" and batch.invalid_columns == []
    assert batch.table.select(["ticker", "date", "close", "adjusted"]).to_pylist() == [
        {"ticker": "AAPL", "date": date(2005, 4, 1), "close": 1.4604, "adjusted": True},
        {"ticker": "AAPL", "date": date(2005, 4, 4), "close": 1.4675, "adjusted": True},
    ]


def test_a_page_read_in_slices_gives_the_rows_and_drops_of_a_page_read_at_once(monkeypatch):
    rows = [ParsedRow("related_tickers", {"ticker": "AAPL", "related_ticker": f"R{n}", "rank": n}) for n in range(7)]
    rows[4] = ParsedRow("related_tickers", {"ticker": "AAPL", "related_ticker": "R4", "rank": "fourth"})
    reader = PageReader(lambda payload: rows)

    [at_once] = read_page(reader, b"{}").batches
    monkeypatch.setattr(pages, "ROWS_AT_ONCE", 3)
    [in_slices] = read_page(reader, b"{}").batches

    assert in_slices.table.column("rank").num_chunks == 3
    assert in_slices.table.equals(at_once.table)
    assert in_slices.table.column("rank").to_pylist() == [0, 1, 2, 3, 5, 6]
    assert in_slices.invalid_columns == at_once.invalid_columns == ["rank"]


def bars_with(changes):
    recorded = json.loads((FIXTURES / DAILY_BARS).read_text())
    bar = recorded["results"][0]
    bars = [{**bar, "t": bar["t"] + n * 86_400_000, "c": bar["c"] + n} for n in range(7)]
    for position, change in changes.items():
        bars[position].update(change)
    return recorded, bars


@pytest.mark.parametrize("changes", [{}, {4: {"c": "not a price"}}, {2: {"t": 1.1e12}}, {3: {"n": None, "vw": None}}],
                         ids=["clean", "bad-close", "float-start", "missing-fields"])
def test_bars_read_as_columns_equal_bars_read_record_by_record(changes):
    recorded, bars = bars_with(changes)
    [batch] = read_page(PageReader(daily_bars_page_columns, ("AAPL",)),
                        json.dumps({**recorded, "results": bars}).encode()).batches
    adjusted = bool(recorded.get("adjusted", False))
    expected, invalid = coerce_records("daily_prices", [daily_bar_row(bar, "AAPL", adjusted).row for bar in bars])
    assert batch.table.equals(expected)
    assert batch.invalid_columns == invalid


def test_a_grouped_daily_page_is_read_keeping_only_the_crawl_s_tickers():
    settings = {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}
    settings.update(POLYGON_BASE_URL=BASE, PRICES_SOURCE="grouped", PRICES_START="2005-04-04",
                    PRICES_END="2005-04-05", PRICES_GROUPED_LANES=1)
    crawler = get_crawler(PricesSpider, settings)
    crawler.spider = spider = crawler._create_spider(tickers="AAPL,MSFT")
    crawler.stats.open_spider()
    [request] = spider.requests({"daily_prices": ["AAPL", "MSFT"]})
    recorded = json.loads((FIXTURES / GROUPED_DAILY).read_text())
    bar = recorded["results"][0]
    bars = [bar, {**bar, "T": "AAPL", "c": 1.5}, {**bar, "T": "MSFT", "c": 2.5}]
    response = respond(request, json.dumps({**recorded, "results": bars}).encode())
    through_middleware(crawler, request, response)
    assert request.meta[PAGE_READ] is not None

    items = list(spider.parse_grouped_daily(response))
    [batch] = [item for item in items if isinstance(item, RecordBatch)]
    assert batch.partition == (2005, 4)
    assert batch.table.select(["ticker", "date", "close"]).to_pylist() == [
        {"ticker": "AAPL", "date": date(2005, 4, 4), "close": 1.5},
        {"ticker": "MSFT", "date": date(2005, 4, 4), "close": 2.5},
    ]
    [next_day] = [item for item in items if isinstance(item, Request)]
    assert next_day.meta["polygon_day"] == date(2005, 4, 5)
    last_items = list(spider.parse_grouped_daily(respond(next_day, json.dumps({**recorded, "results": []}).encode())))
    assert last_items == [PartitionComplete("daily_prices", (2005, 4), 1)]


def related_rows_out_of_ticker_order(payload):
    """A page's related tickers listed as the API may list them: not in ticker order."""
    return [ParsedRow("related_tickers", {"ticker": ticker, "related_ticker": related, "rank": rank})
            for ticker, related, rank in [("MSFT", "GOOG", 1), ("AAPL", "MSFT", 1), ("MSFT", "AAPL", 2),
                                          ("AAPL", "GOOG", 2)]]


def test_a_page_whose_rows_are_held_per_ticker_is_read_into_ticker_order_keeping_each_tickers_order():
    [batch] = read_page(PageReader(related_rows_out_of_ticker_order), b"{}").batches
    assert batch.table.select(["ticker", "related_ticker"]).to_pylist() == [
        {"ticker": "AAPL", "related_ticker": "MSFT"}, {"ticker": "AAPL", "related_ticker": "GOOG"},
        {"ticker": "MSFT", "related_ticker": "GOOG"}, {"ticker": "MSFT", "related_ticker": "AAPL"}]


def test_a_market_wide_pages_rows_keep_the_order_the_api_gave():
    [batch] = read_page(PageReader(related_rows_out_of_ticker_order, rows_by_ticker=False), b"{}").batches
    assert batch.table.column("ticker").to_pylist() == ["MSFT", "AAPL", "MSFT", "AAPL"]


def test_the_market_wide_listings_read_their_pages_as_market_wide(crawler):
    settings = {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}
    prices = get_crawler(PricesSpider, {**settings, "POLYGON_BASE_URL": BASE})._create_spider(tickers="AAPL,MSFT")
    prices.grouped_tickers = frozenset({"AAPL", "MSFT"})
    prices.grouped_days = type("Days", (), {"months_total": 1})()
    assert prices.grouped_day_request(date(2024, 1, 2)).meta[PAGE_READER].rows_by_ticker is False
    assert prices.grouped_update_request([date(2024, 1, 2)]).meta[PAGE_READER].rows_by_ticker is False
    [update] = crawler.spider.update_requests({"balance_sheets": date(2024, 1, 2)})
    assert update.meta[PAGE_READER].rows_by_ticker is False
    assert statements_request(crawler).meta[PAGE_READER].rows_by_ticker is True


class ReadsAtOnce:
    lock = threading.Lock()
    now = most = 0


def rows_counting_reads_at_once(payload):
    """A page reader's rows, read slowly, counting the reads running at once."""
    with ReadsAtOnce.lock:
        ReadsAtOnce.now += 1
        ReadsAtOnce.most = max(ReadsAtOnce.most, ReadsAtOnce.now)
    time.sleep(0.05)
    with ReadsAtOnce.lock:
        ReadsAtOnce.now -= 1
    return [ParsedRow("related_tickers", {"ticker": "AAPL", "related_ticker": "MSFT", "rank": 1})]


def test_no_more_pages_are_read_at_once_than_the_setting_allows():
    async def read_all():
        middleware = PageReaderMiddleware(reads_at_once=2)
        requests = [Request(f"{BASE}/v1/related-companies/T{n}", meta={PAGE_READER: PageReader(rows_counting_reads_at_once)})
                    for n in range(6)]
        await asyncio.gather(*[middleware.process_response(request, respond(request, b'{"results": []}'))
                               for request in requests])
        return [request.meta[PAGE_READ] for request in requests]

    read = asyncio.run(read_all())
    assert all(page is not None and page.batches for page in read)
    assert ReadsAtOnce.most == 2
