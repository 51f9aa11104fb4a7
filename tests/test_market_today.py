"""The crawl's "today" comes from the server, never from the local clock: the market status
(``/v1/marketstatus/now``) gives the server's time, the exchange calendar turns it into the last
trading day whose session is complete, and the prices end there unless ``PRICES_END`` says
otherwise. The sandbox's today is its as-of day; a crawl that cannot learn it stops and says so."""

from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy import Request

from screener_crawler.polygon.endpoints import ENDPOINTS
from screener_crawler.polygon.parsers import server_time
from screener_crawler.sandbox import SandboxProcess
from screener_crawler.sandbox.market import SyntheticMarket
from screener_crawler.sandbox.responses import PolygonApi
from screener_crawler.spiders.base import MARKET_TODAY_UNKNOWN
from screener_crawler.spiders.prices import PricesSpider
from screener_crawler.spiders.screener import ScreenerSpider
from screener_crawler.trading_calendar import last_complete_trading_day, trading_days
from tests.crawl import SHORT_HISTORY, read_dataset, run_crawl, sandbox_env, stat
from tests.recorded import BASE, answer, fixture_json, open_spider, path_and_query

MARKET_STATUS = "polygon/marketstatus_v1_now__openapi_example.json"
"""The vendor's documented answer: serverTime 2020-11-10T17:37:37-05:00, a Tuesday in extended hours."""
KEY = "market-today-test-key-52c1"
EARLIER_AS_OF = date(2025, 6, 13)
"""A Friday months before the sandbox's default as-of day, and more before this machine's clock."""


@pytest.mark.parametrize("moment, today", [
    ("2025-11-21T20:30:00-05:00", date(2025, 11, 21)),  # a Friday evening, after-hours over
    ("2025-11-21T20:00:00-05:00", date(2025, 11, 21)),  # the minute after-hours ends
    ("2025-11-21T19:59:59-05:00", date(2025, 11, 20)),  # still after-hours: the day's bars may change
    ("2025-11-21T09:00:00-05:00", date(2025, 11, 20)),  # a weekday morning
    ("2025-11-22T12:00:00-05:00", date(2025, 11, 21)),  # Saturday
    ("2025-11-23T21:00:00-05:00", date(2025, 11, 21)),  # Sunday evening
    ("2025-11-24T08:00:00-05:00", date(2025, 11, 21)),  # Monday before the open
    ("2025-11-27T21:00:00-05:00", date(2025, 11, 26)),  # Thanksgiving evening: a holiday
    ("2025-11-28T07:00:00-05:00", date(2025, 11, 26)),  # the morning after the holiday
    ("2025-07-04T21:00:00-04:00", date(2025, 7, 3)),  # Independence Day, daylight saving time
    ("2025-06-30T20:30:00-04:00", date(2025, 6, 30)),  # a summer evening
    ("2025-07-01T00:30:00+00:00", date(2025, 6, 30)),  # the same moment in UTC: 20:30 EDT
    ("2025-06-30T19:30:00-05:00", date(2025, 6, 30)),  # and at a winter offset: 20:30 EDT too
    ("2025-11-22T00:30:00+00:00", date(2025, 11, 20)),  # 19:30 EST: in summer it would be 20:30
    ("2025-03-09T21:00:00-04:00", date(2025, 3, 7)),  # the Sunday daylight saving time starts
    ("2025-11-03T20:15:00-05:00", date(2025, 11, 3)),  # the Monday after it ends
], ids=lambda value: str(value))
def test_the_last_complete_trading_day_of_a_server_time(moment, today):
    assert last_complete_trading_day(datetime.fromisoformat(moment)) == today


def test_a_server_time_without_a_time_zone_is_refused():
    with pytest.raises(ValueError):
        last_complete_trading_day(datetime(2025, 11, 21, 21, 0))


def test_the_documented_market_status_gives_its_server_time_and_the_day_before_it():
    moment = server_time(fixture_json(MARKET_STATUS))
    assert moment == datetime.fromisoformat("2020-11-10T22:37:37+00:00")
    assert last_complete_trading_day(moment) == date(2020, 11, 9)


@pytest.mark.parametrize("payload", [{}, {"serverTime": None}, {"serverTime": "2020-11-10T17:37:37"},
                                     {"serverTime": "yesterday"}, ["serverTime"]], ids=repr)
def test_a_market_status_without_a_usable_server_time_is_an_error(payload):
    with pytest.raises(ValueError):
        server_time(payload)


def shape(value):
    """The keys and value types of a JSON answer, nested."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return type(value).__name__


@pytest.mark.parametrize("as_of, offset", [(date(2025, 11, 21), "-05:00"), (EARLIER_AS_OF, "-04:00")], ids=str)
def test_the_sandbox_serves_the_documented_shape_at_its_as_of_evening(as_of, offset):
    status, body = PolygonApi(SyntheticMarket(size=10, delisted=0, as_of=as_of)).handle(
        ENDPOINTS["market_status"].path, {}, BASE)
    assert status == 200
    assert shape(body) == shape(fixture_json(MARKET_STATUS))
    assert body["serverTime"] == f"{as_of.isoformat()}T20:30:00{offset}"
    assert body["market"] == "closed" and not body["afterHours"] and not body["earlyHours"]
    assert last_complete_trading_day(server_time(body)) == as_of


def test_prices_without_an_end_ask_the_market_status_and_end_at_its_today(tmp_path):
    spider = open_spider(PricesSpider, tmp_path, {"PRICES_START": "2020-10-01", "PRICES_SOURCE": "per_ticker"},
                         tickers="AAPL,MSFT")
    spider.plan_crawl()
    assert spider.market_today_needed()
    request = spider.market_status_request()
    assert path_and_query(request) == ("/v1/marketstatus/now", {})
    request.callback(answer(request, MARKET_STATUS))
    assert spider.market_today == date(2020, 11, 9)
    assert spider.crawler.stats.get_value("market/today") == "2020-11-09"
    assert spider.crawler.stats.get_value("market/server_time") == "2020-11-10T17:37:37-05:00"
    windows = [path_and_query(request)[0] for request in spider.unit_requests()]
    assert windows == [f"/v2/aggs/ticker/{t}/range/1/day/2020-10-01/2020-11-09" for t in ("AAPL", "MSFT")]


def test_the_market_status_is_not_asked_when_prices_end_is_set_or_no_price_is_pending(tmp_path):
    dated = open_spider(ScreenerSpider, tmp_path, {"PRICES_END": "2024-03-28"}, tickers="AAPL")
    dated.plan_crawl()
    assert not dated.market_today_needed()
    without_prices = open_spider(ScreenerSpider, tmp_path, {}, tickers="AAPL", datasets="related_tickers")
    without_prices.plan_crawl()
    assert not without_prices.market_today_needed()


def test_an_unreadable_market_status_stops_the_crawl_instead_of_using_the_local_clock(tmp_path, caplog):
    spider = open_spider(PricesSpider, tmp_path, {}, tickers="AAPL")
    stops = []

    spider.crawler.engine = SimpleNamespace(close_spider_async=lambda reason: stops.append(reason))
    handed = []
    spider._market_today_learned.addBoth(handed.append)
    request = spider.market_status_request()
    assert isinstance(request, Request)
    request.callback(answer(request, "polygon/related_companies_v1__openapi_example.json"))
    assert stops == [MARKET_TODAY_UNKNOWN] and handed == [None] and spider.market_today is None
    assert "-s PRICES_END=YYYY-MM-DD" in caplog.text and "not fall back to this machine's clock" in caplog.text


def grouped_days(request_log):
    """The days of the grouped daily requests the sandbox answered, in date order (the lanes'
    answers arrive in any order)."""
    paths = [line.split(" ", 2)[2] for line in Path(request_log).read_text().splitlines()]
    prefix = ENDPOINTS["grouped_daily"].path.split("{")[0]
    return sorted(date.fromisoformat(path[len(prefix):]) for path in paths if path.startswith(prefix))


def test_a_crawl_without_prices_end_asks_no_day_after_the_sandboxs_as_of_day(tmp_path):
    request_log = tmp_path / "requests.log"
    with SandboxProcess(keys=[KEY], universe_size=10, delisted=0, as_of=EARLIER_AS_OF,
                        history_start=SHORT_HISTORY, request_log=str(request_log)) as sandbox:
        result = run_crawl("prices", ("tickers", "AAPL,MSFT"), env=sandbox_env(sandbox, tmp_path / "data", KEY),
                           settings={"POLYGON_RATE_LIMIT": 0, "PRICES_SOURCE": "grouped", "PRICES_START": "2025-06-02"})
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stats["finish_reason"] == "finished"
    assert grouped_days(request_log) == trading_days(date(2025, 6, 2), EARLIER_AS_OF)
    assert stat(result, "market/today") == EARLIER_AS_OF.isoformat()
    assert "Market data through 2025-06-13 (server time 2025-06-13T20:30:00-04:00)" in result.stderr
    assert max(read_dataset(tmp_path / "data", "daily_prices").column("date").to_pylist()) == EARLIER_AS_OF


def test_a_market_status_that_fails_for_good_stops_the_crawl_and_names_prices_end(tmp_path):
    request_log = tmp_path / "requests.log"
    with SandboxProcess(keys=[KEY], universe_size=10, delisted=0, fault_5xx=1.0,
                        request_log=str(request_log)) as failing:
        result = run_crawl("prices", ("tickers", "AAPL,MSFT"), env=sandbox_env(failing, tmp_path / "data", KEY),
                           settings={"POLYGON_RATE_LIMIT": 0, "RETRY_TIMES": 1, "BACKOFF_BASE_DELAY": 0.1})
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stats["finish_reason"] == MARKET_TODAY_UNKNOWN
    assert stat(result, "market/today_unknown").startswith("HTTP 50")
    assert "not fall back to this machine's clock" in result.stderr and "-s PRICES_END=YYYY-MM-DD" in result.stderr
    paths = {line.split(" ", 2)[2] for line in request_log.read_text().splitlines()}
    assert paths == {ENDPOINTS["market_status"].path}
    assert not list((tmp_path / "data").rglob("*.parquet"))
