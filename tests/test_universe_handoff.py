"""The universe's listing hands its tickers to ``start``, which waits for them before it requests
any unit; whatever way the listing ends, ``start`` is told, so a crawl never waits forever."""

import json

import pytest
from scrapy import Request
from scrapy.http import TextResponse
from twisted.python.failure import Failure

from screener_crawler.items import UnitFailed, UnitsComplete
from screener_crawler.spiders.base import RepeatedCursorError
from screener_crawler.spiders.screener import ScreenerSpider
from tests.recorded import BASE, handed_to_start, open_spider


def open_screener(tmp_path):
    return open_spider(ScreenerSpider, tmp_path)


def universe_page(spider, tickers, next_url=None, active=False, cursors=()):
    request = spider.universe_listing(active=active)
    request.meta["polygon_cursors"] = cursors
    body = {"status": "OK", "results": [{"ticker": t, "market": "stocks", "type": "CS", "active": active}
                                        for t in tickers]}
    if next_url:
        body["next_url"] = next_url
    return TextResponse(request.url, body=json.dumps(body).encode(), encoding="utf-8", request=request)


def test_the_last_universe_page_hands_its_tickers_to_start_and_requests_no_unit_itself(tmp_path):
    spider = open_screener(tmp_path)
    tickers = [f"T{number:03d}" for number in range(300)]
    output = list(spider.parse_universe(universe_page(spider, tickers)))
    assert handed_to_start(spider) == [tickers]
    assert not any(isinstance(item, Request) for item in output)
    assert UnitsComplete((("universe", None),)) in output


def test_a_page_before_the_last_hands_nothing_yet(tmp_path):
    spider = open_screener(tmp_path)
    output = list(spider.parse_universe(universe_page(spider, ["AAA"], next_url=f"{BASE}/v3/reference/tickers?cursor=c1")))
    assert handed_to_start(spider) == []
    assert [item.url for item in output if isinstance(item, Request)] == [f"{BASE}/v3/reference/tickers?cursor=c1"]


def test_a_universe_page_that_cannot_be_read_hands_none(tmp_path):
    spider = open_screener(tmp_path)
    response = universe_page(spider, ["AAA"], next_url=f"{BASE}/v3/reference/tickers?cursor=c1", cursors=("c1",))
    with pytest.raises(RepeatedCursorError):
        list(spider.parse_universe(response))
    assert handed_to_start(spider) == [None]


def test_a_failed_universe_listing_hands_none_and_fails_the_universe_unit(tmp_path):
    spider = open_screener(tmp_path)
    failure = Failure(TimeoutError("no answer"))
    failure.request = spider.universe_listing(active=True)
    output = list(spider.universe_failed(failure))
    assert handed_to_start(spider) == [None]
    assert output == [UnitFailed("universe", None, "TimeoutError")]
