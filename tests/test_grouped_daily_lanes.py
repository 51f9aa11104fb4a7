"""Grouped daily prices are listed in lanes that share one queue of days in date order: every
lane works on the same month or two, so only those months' bars are held in memory at a time."""

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


def recorded_page(request):
    """The recorded grouped-daily page with its one bar given to AAPL and to MSFT."""
    recorded = json.loads((FIXTURES / GROUPED_DAILY).read_text())
    [bar] = recorded["results"]
    results = [{**bar, "T": ticker} for ticker in ("AAPL", "MSFT")]
    body = json.dumps({**recorded, "results": results, "resultsCount": 2, "count": 2}).encode()
    return TextResponse(request.url, body=body, encoding="utf-8", request=request)


def answer_in_turn(spider, lanes, fail_on=None):
    """Answer the lanes' requests round-robin until none is left (the request for ``fail_on``
    fails); (days requested, items other than requests, most months holding bars at once)."""
    days, items, holding, most_held = [], [], set(), 0
    while lanes:
        request = lanes.pop(0)
        day = request.meta["polygon_day"]
        days.append(day)
        if day == fail_on:
            failure = Failure(TimeoutError())
            failure.request = request
            output = list(spider.grouped_daily_failed(failure))
        else:
            output = list(spider.parse_grouped_daily(recorded_page(request)))
        lanes += [item for item in output if isinstance(item, Request)]
        for item in output:
            if isinstance(item, RecordBatch):
                holding.add(item.partition)
            elif isinstance(item, (PartitionComplete, PartitionFailed)):
                holding.discard(item.partition)
            if not isinstance(item, (Request, RecordBatch)):
                items.append(item)
        most_held = max(most_held, len(holding))
    return days, items, most_held


def test_the_lanes_take_the_days_in_date_order_and_hold_one_or_two_months_at_a_time():
    spider = prices_spider(lanes=4)
    lanes = list(spider.requests({"daily_prices": ["AAPL", "MSFT"]}))
    assert [lane.meta["polygon_day"] for lane in lanes] == [date(2005, 1, 3), date(2005, 1, 4), date(2005, 1, 5),
                                                            date(2005, 1, 6)]

    days, items, most_held = answer_in_turn(spider, lanes)

    assert days == sorted(days)
    assert len(days) == len(set(days)) == 82
    assert not {date(2005, 1, 17), date(2005, 2, 21), date(2005, 3, 25)} & set(days)  # NYSE holidays
    assert items == [PartitionComplete("daily_prices", month, len(MONTHS)) for month in MONTHS]
    assert 1 <= most_held <= 2  # four lanes each on its own run of months held four


def test_a_day_that_fails_fails_its_month_once_and_no_more_of_its_days_are_asked():
    spider = prices_spider(lanes=2)
    lanes = list(spider.requests({"daily_prices": ["AAPL", "MSFT"]}))

    days, items, _ = answer_in_turn(spider, lanes, fail_on=date(2005, 1, 10))

    assert items == [PartitionFailed("daily_prices", (2005, 1), "TimeoutError"),
                     UnitFailed("daily_prices", "AAPL", "grouped daily 2005-01-10: TimeoutError"),
                     UnitFailed("daily_prices", "MSFT", "grouped daily 2005-01-10: TimeoutError"),
                     *(PartitionComplete("daily_prices", month, len(MONTHS)) for month in MONTHS[1:])]
    january = [day for day in days if day.month == 1]
    assert january[-2:] == [date(2005, 1, 10), date(2005, 1, 11)]  # the other lane's day already asked
    assert len(days) == 82 - (len(january_days()) - len(january))


def january_days():
    spider = prices_spider(lanes=1)
    days, _, _ = answer_in_turn(spider, list(spider.requests({"daily_prices": ["AAPL"]})))
    return [day for day in days if day.month == 1]


def test_a_day_this_crawl_does_not_list_passes_nothing_on():
    spider = prices_spider(lanes=1)
    [lane] = spider.requests({"daily_prices": ["AAPL", "MSFT"]})
    left_in_jobdir = lane.replace(meta={**lane.meta, "polygon_day": date(2004, 12, 31)})

    output = list(spider.parse_grouped_daily(recorded_page(left_in_jobdir)))

    assert [type(item) for item in output] == [Request]
    assert output[0].meta["polygon_day"] == date(2005, 1, 4)


def test_fewer_days_than_lanes_make_one_lane_per_day():
    spider = open_spider(PricesSpider, settings={"PRICES_SOURCE": "grouped", "PRICES_START": "2005-01-03",
                                                 "PRICES_END": "2005-01-05", "PRICES_GROUPED_LANES": 8},
                         tickers="AAPL")
    lanes = list(spider.requests({"daily_prices": ["AAPL"]}))
    assert [lane.meta["polygon_day"] for lane in lanes] == [date(2005, 1, 3), date(2005, 1, 4), date(2005, 1, 5)]
