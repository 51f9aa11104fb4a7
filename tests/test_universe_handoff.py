"""The universe's listing hands its tickers to ``start``, which waits for them before it requests
any unit; whatever way the listing ends, ``start`` is told, so a crawl never waits forever."""

import json

import pytest
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from screener_crawler import settings as project_settings
from screener_crawler.items import UnitFailed, UnitsComplete
from screener_crawler.spiders.base import RepeatedCursorError
from screener_crawler.spiders.screener import ScreenerSpider

BASE = "http://127.0.0.1:1"


def open_spider(tmp_path):
    settings = {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}
    settings.update(POLYGON_BASE_URL=BASE, SCREENER_DATA_DIR=str(tmp_path / "data"),
                    SCREENER_PROGRESS_FILE=str(tmp_path / "progress.json"))
    crawler = get_crawler(ScreenerSpider, settings)
    spider = crawler._create_spider()
    crawler.stats.open_spider()
    return spider


def universe_page(spider, tickers, next_url=None, active=False, cursors=()):
    request = spider.universe_listing(active=active)
    request.meta["polygon_cursors"] = cursors
    body = {"status": "OK", "results": [{"ticker": t, "market": "stocks", "type": "CS", "active": active}
                                        for t in tickers]}
    if next_url:
        body["next_url"] = next_url
    return TextResponse(request.url, body=json.dumps(body).encode(), encoding="utf-8", request=request)


def handed_to_start(spider):
    results = []
    spider._universe_listed.addBoth(results.append)
    return results


def test_the_last_universe_page_hands_its_tickers_to_start_and_requests_no_unit_itself(tmp_path):
    spider = open_spider(tmp_path)
    tickers = [f"T{number:03d}" for number in range(300)]
    output = list(spider.parse_universe(universe_page(spider, tickers)))
    assert handed_to_start(spider) == [tickers]
    assert not any(isinstance(item, Request) for item in output)
    assert UnitsComplete((("universe", None),)) in output


def test_a_page_before_the_last_hands_nothing_yet(tmp_path):
    spider = open_spider(tmp_path)
    output = list(spider.parse_universe(universe_page(spider, ["AAA"], next_url=f"{BASE}/v3/reference/tickers?cursor=c1")))
    assert handed_to_start(spider) == []
    assert [item.url for item in output if isinstance(item, Request)] == [f"{BASE}/v3/reference/tickers?cursor=c1"]


def test_a_universe_page_that_cannot_be_read_hands_none(tmp_path):
    spider = open_spider(tmp_path)
    response = universe_page(spider, ["AAA"], next_url=f"{BASE}/v3/reference/tickers?cursor=c1", cursors=("c1",))
    with pytest.raises(RepeatedCursorError):
        list(spider.parse_universe(response))
    assert handed_to_start(spider) == [None]


def test_a_failed_universe_listing_hands_none_and_fails_the_universe_unit(tmp_path):
    spider = open_spider(tmp_path)
    failure = Failure(TimeoutError("no answer"))
    failure.request = spider.universe_listing(active=True)
    output = list(spider.universe_failed(failure))
    assert handed_to_start(spider) == [None]
    assert output == [UnitFailed("universe", None, "TimeoutError")]
