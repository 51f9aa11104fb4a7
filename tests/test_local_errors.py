"""Errors that stay local to their units (issue 5, point 3 and 4): a 404 for a ticker is "no
data", a plan without an endpoint that has no fallback fails just that dataset, a repeating
cursor fails its unit, and a record of the wrong type is dropped and counted."""

import asyncio
import json

import pytest
from scrapy.http import Request, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from screener_crawler.items import RecordBatch, UnitFailed, UnitsComplete
from screener_crawler.middlewares.entitlement import PlanNotEntitled
from screener_crawler.middlewares.unit_failures import UnitFailureMiddleware
from screener_crawler.pipelines.validation import ValidationPipeline
from screener_crawler.spiders.base import RepeatedCursorError
from screener_crawler.spiders.related_tickers import RelatedTickersSpider

BASE = "http://127.0.0.1:1"


@pytest.fixture
def spider():
    crawler = get_crawler(RelatedTickersSpider, {"POLYGON_BASE_URL": BASE})
    crawler.stats.open_spider()
    return RelatedTickersSpider.from_crawler(crawler, tickers="AAPL")


def failure_of(request, error):
    try:
        raise error
    except Exception:
        failure = Failure()
    failure.request = request
    return failure


def related_request():
    return Request(f"{BASE}/v1/related-companies/AAPL",
                   meta={"polygon_units": (("related_tickers", "AAPL"),), "polygon_404_is_empty": True})


def test_a_404_for_a_ticker_completes_its_unit_as_empty(spider):
    request = related_request()
    not_found = TextResponse(request.url, status=404, body=b"{}", request=request)
    items = list(spider.listing_failed(failure_of(request, HttpError(not_found))))
    assert items == [UnitsComplete((("related_tickers", "AAPL"),))]


def test_another_http_error_fails_the_unit_with_its_status(spider):
    request = related_request()
    unavailable = TextResponse(request.url, status=503, body=b"<html>", request=request)
    items = list(spider.listing_failed(failure_of(request, HttpError(unavailable))))
    assert [(type(i), i.ticker, i.reason) for i in items] == [(UnitFailed, "AAPL", "HTTP 503")]


def test_an_endpoint_the_plan_lacks_without_fallback_fails_only_its_units(spider):
    request = related_request()
    items = list(spider.listing_failed(failure_of(request, PlanNotEntitled("related_companies"))))
    assert [(i.dataset, i.reason) for i in items] == [("related_tickers", "not entitled: plan lacks this endpoint")]


def test_a_next_url_repeating_a_cursor_fails_the_unit(spider):
    page = {"results": [], "next_url": f"{BASE}/v1/related-companies/AAPL?cursor=abc"}
    request = Request(f"{BASE}/v1/related-companies/AAPL?cursor=abc",
                      meta={"polygon_units": (("related_tickers", "AAPL"),), "polygon_cursors": ("abc",)})
    response = TextResponse(request.url, body=json.dumps(page).encode(), encoding="utf-8", request=request)
    with pytest.raises(RepeatedCursorError) as raised:
        spider.next_page_request(response, page["next_url"])
    middleware = UnitFailureMiddleware(spider.crawler.stats)
    items = middleware.process_spider_exception(response, raised.value)
    assert [(i.dataset, i.ticker, i.reason) for i in items] == [("related_tickers", "AAPL", "RepeatedCursorError")]


def test_a_record_of_the_wrong_type_is_dropped_and_counted():
    crawler = get_crawler(settings_dict={})
    crawler.stats.open_spider()
    good = {"ticker": "AAPL", "related_ticker": "MSFT", "rank": 1}
    bad = {"ticker": "AAPL", "related_ticker": "GOOGL", "rank": "first"}
    batch = asyncio.run(ValidationPipeline(crawler.stats).process_item(RecordBatch("related_tickers", [good, bad])))
    assert batch.table.column("related_ticker").to_pylist() == ["MSFT"]
    assert crawler.stats.get_value("validation/dropped/related_tickers") == 1
    assert crawler.stats.get_value("validation/invalid_column/related_tickers/rank") == 1
