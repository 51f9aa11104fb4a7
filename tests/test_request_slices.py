"""Long runs of requests are given to Scrapy a slice per reactor turn: the unit requests that
follow the universe held the reactor up to 190 ms when given all at once."""

import asyncio
import json

from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from screener_crawler import settings as project_settings
from screener_crawler import turns
from screener_crawler.spiders.base import REQUESTS_PER_TURN
from screener_crawler.spiders.screener import ScreenerSpider

BASE = "http://127.0.0.1:1"


def count_turns(monkeypatch):
    turns_taken = []

    async def turn():
        turns_taken.append(len(turns_taken))

    monkeypatch.setattr(turns, "next_reactor_turn", turn)
    return turns_taken


async def collect(iterator):
    return [item async for item in iterator]


def test_items_come_in_order_with_a_turn_after_every_slice(monkeypatch):
    turns_taken = count_turns(monkeypatch)
    assert asyncio.run(collect(turns.in_slices(range(10), 4))) == list(range(10))
    assert len(turns_taken) == 2


def test_the_last_universe_page_gives_its_unit_requests_a_slice_per_turn(monkeypatch, tmp_path):
    turns_taken = count_turns(monkeypatch)
    settings = {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}
    settings.update(POLYGON_BASE_URL=BASE, SCREENER_DATA_DIR=str(tmp_path / "data"),
                    SCREENER_PROGRESS_FILE=str(tmp_path / "progress.json"))
    crawler = get_crawler(ScreenerSpider, settings)
    spider = crawler._create_spider()
    crawler.stats.open_spider()
    tickers = [f"T{number:03d}" for number in range(300)]
    body = json.dumps({"status": "OK", "results": [{"ticker": t, "market": "stocks", "type": "CS", "active": False}
                                                   for t in tickers]})
    request = spider.universe_listing(active=False)
    output = asyncio.run(collect(spider.parse_universe(
        TextResponse(request.url, body=body.encode(), encoding="utf-8", request=request))))
    requests = [item for item in output if isinstance(item, Request)]
    assert spider.tickers == tickers
    assert len(requests) > REQUESTS_PER_TURN
    assert len(turns_taken) == len(requests) // REQUESTS_PER_TURN
