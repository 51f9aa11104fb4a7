"""Grouped daily prices are listed in lanes: each lane requests its run of months one day after
the other, so only as many months as there are lanes are held in memory at a time."""

import json
from datetime import date

import pytest
from scrapy.http import Request, TextResponse
from twisted.python.failure import Failure

from screener_crawler.items import PartitionComplete, PartitionFailed, RecordBatch, UnitFailed
from screener_crawler.spiders.prices import PricesSpider
from tests.recorded import FIXTURES, open_spider

GROUPED_DAILY = "aggs_v2_grouped_daily_us_stocks_2005-04-04__py_mock.json"
MONTHS = [(2005, 1), (2005, 2), (2005, 3), (2005, 4)]


def prices_spider(lanes):
    return open_spider(PricesSpider, settings={"PRICES_SOURCE": "grouped", "PRICES_START": "2005-01-01",
                                               "PRICES_END": "2005-04-30", "PRICES_GROUPED_LANES": lanes},
                       tickers="AAPL,MSFT")


@pytest.fixture
def spider():
    return prices_spider(lanes=2)


def empty_page(request):
    recorded = json.loads((FIXTURES / GROUPED_DAILY).read_text())
    body = json.dumps({**recorded, "results": [], "resultsCount": 0}).encode()
    return TextResponse(request.url, body=body, encoding="utf-8", request=request)


def walk_lane(spider, request):
    """Every request of the lane ``request`` starts, answered in turn, and the items between."""
    days, items = [], []
    while request is not None:
        days.append(request.meta["polygon_days"][0])
        output = list(spider.parse_grouped_daily(empty_page(request)))
        following = [item for item in output if isinstance(item, Request)]
        assert len(following) <= 1
        items += [item for item in output if not isinstance(item, (Request, RecordBatch))]
        request = following[0] if following else None
    return days, items


def test_the_months_are_cut_into_as_many_lanes_as_set_each_requesting_one_day_at_a_time(spider):
    lanes = list(spider.requests({"daily_prices": ["AAPL", "MSFT"]}))

    assert [lane.meta["polygon_days"][0] for lane in lanes] == [date(2005, 1, 3), date(2005, 3, 1)]
    walked = [walk_lane(spider, lane) for lane in lanes]
    days = [day for lane_days, _ in walked for day in lane_days]
    assert days == sorted(days)
    assert len(days) == len(set(days)) == 82
    assert not {date(2005, 1, 17), date(2005, 2, 21), date(2005, 3, 25)} & set(days)  # NYSE holidays
    assert {(day.year, day.month) for day in walked[0][0]} == {(2005, 1), (2005, 2)}
    assert [item for _, items in walked for item in items] == [
        PartitionComplete("daily_prices", month, len(MONTHS)) for month in MONTHS]


def test_a_day_that_fails_fails_its_month_and_its_lane_goes_on_with_the_next_month(spider):
    first_lane = next(iter(spider.requests({"daily_prices": ["AAPL", "MSFT"]})))
    failure = Failure(TimeoutError())
    failure.request = first_lane.replace(meta={**first_lane.meta,
                                               "polygon_days": first_lane.meta["polygon_days"][5:]})

    output = list(spider.grouped_daily_failed(failure))

    assert output[:3] == [PartitionFailed("daily_prices", (2005, 1), "TimeoutError"),
                          UnitFailed("daily_prices", "AAPL", "grouped daily 2005-01-10: TimeoutError"),
                          UnitFailed("daily_prices", "MSFT", "grouped daily 2005-01-10: TimeoutError")]
    [next_month] = output[3:]
    assert next_month.meta["polygon_days"][0] == date(2005, 2, 1)
    _, items = walk_lane(spider, next_month)
    assert items == [PartitionComplete("daily_prices", (2005, 2), len(MONTHS))]


def test_fewer_months_than_lanes_make_one_lane_per_month():
    lanes = list(prices_spider(lanes=8).requests({"daily_prices": ["AAPL"]}))
    assert [lane.meta["polygon_days"][0] for lane in lanes] == [date(2005, 1, 3), date(2005, 2, 1),
                                                                 date(2005, 3, 1), date(2005, 4, 1)]
