"""The prices spider's two lanes on recorded responses: per-ticker range bars (real client mock
and OpenAPI example) and grouped daily bars, day after day (sandbox recordings)."""

from datetime import date

import pytest
from scrapy import Request

from screener_crawler.items import PartitionComplete, RecordBatch, UnitsComplete
from screener_crawler.polygon.pages import PAGE_READER
from screener_crawler.spiders.prices import PricesSpider
from tests.recorded import feed, fixture_json, open_spider, path_and_query, records_of

RANGE_LAST_PAGE = "prices/aggs_v2_range_1_day_AAPL_2005-04-01_2005-04-04__py_mock.json"
RANGE_WITH_NEXT_URL = "prices/aggs_v2_range_stocks__openapi_example.json"
GROUPED = {date(2024, 3, 27): "prices/grouped_daily_2024-03-27__sandbox.json",
           date(2024, 3, 28): "prices/grouped_daily_2024-03-28__sandbox.json"}
UNIVERSE = ("AAPL", "BRK.A", "BRK.B", "EXRD", "MSFT", "MUOY", "N", "VO")
"""The recording sandbox's active common stocks; its grouped bars also hold VO's warrants, VO.WS."""
LANE_DAYS = (date(2024, 3, 27), date(2024, 3, 28), date(2024, 4, 1), date(2024, 4, 2))
BAR_COLUMNS = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vw": "vwap", "n": "transactions"}


def served_bars(fixture, ticker=None, day=None):
    """The recording's bars as daily_prices rows: of ``ticker`` (range) or of their ``T``
    (grouped), on their own ``days`` (range) or on ``day`` (grouped)."""
    payload = fixture_json(fixture)
    return [{"ticker": ticker or bar["T"], "adjusted": payload["adjusted"],
             **{column: bar[key] for key, column in BAR_COLUMNS.items()}, **({"date": day} if day else {})}
            for bar in payload["results"]]


def without_dates(rows):
    return [{key: value for key, value in row.items() if key != "date"} for row in rows]


@pytest.fixture
def per_ticker(tmp_path):
    return open_spider(PricesSpider, tmp_path, {"PRICES_SOURCE": "per_ticker", "PRICES_START": "2005-04-01",
                                                "PRICES_END": "2005-04-04"}, tickers="AAPL,MSFT")


@pytest.fixture
def grouped(tmp_path):
    return open_spider(PricesSpider, tmp_path, {"PRICES_SOURCE": "grouped", "PRICES_START": "2024-03-27",
                                                "PRICES_END": "2024-04-02", "PRICES_GROUPED_LANES": 1},
                       tickers=",".join(UNIVERSE))


def test_per_ticker_lane_asks_each_ticker_for_its_unadjusted_range_of_daily_bars(per_ticker):
    requests = list(per_ticker.requests({"daily_prices": ["AAPL", "MSFT"]}))
    query = {"adjusted": "false", "sort": "asc", "limit": "50000"}
    assert [path_and_query(request) for request in requests] == [
        ("/v2/aggs/ticker/AAPL/range/1/day/2005-04-01/2005-04-04", query),
        ("/v2/aggs/ticker/MSFT/range/1/day/2005-04-01/2005-04-04", query)]
    assert [request.meta["polygon_units"] for request in requests] == [
        (("daily_prices", "AAPL"),), (("daily_prices", "MSFT"),)]
    assert all(request.callback == per_ticker.parse_read_page and request.meta["polygon_404_is_empty"]
               and request.meta[PAGE_READER].args == (request.meta["polygon_units"][0][1],) for request in requests)


def test_per_ticker_last_page_becomes_the_tickers_bars_by_day_then_completes_the_ticker(per_ticker):
    [aapl, _] = per_ticker.requests({"daily_prices": ["AAPL", "MSFT"]})
    batch, complete = feed(aapl, RANGE_LAST_PAGE)
    assert isinstance(batch, RecordBatch) and batch.dataset == "daily_prices" and batch.partition is None
    rows = records_of([batch])
    assert without_dates(rows) == served_bars(RANGE_LAST_PAGE, "AAPL")
    assert [row["date"] for row in rows] == ["2005-04-01", "2005-04-04"]  # t: US/Eastern midnight of the day
    assert complete == UnitsComplete((("daily_prices", "AAPL"),))


def test_per_ticker_page_with_a_next_url_is_followed_on_the_configured_host(per_ticker):
    [aapl, _] = per_ticker.requests({"daily_prices": ["AAPL", "MSFT"]})
    batch, next_page = feed(aapl, RANGE_WITH_NEXT_URL)
    assert without_dates(records_of([batch])) == served_bars(RANGE_WITH_NEXT_URL, "AAPL")
    assert path_and_query(next_page) == ("/v2/aggs/ticker/AAPL/range/1/day/1578114000000/2020-01-10",
                                         {"cursor": "bGltaXQ9MiZzb3J0PWFzYw"})
    assert fixture_json(RANGE_WITH_NEXT_URL)["next_url"].endswith(
        "/v2/aggs/ticker/AAPL/range/1/day/1578114000000/2020-01-10?cursor=bGltaXQ9MiZzb3J0PWFzYw")
    assert next_page.meta["polygon_units"] == (("daily_prices", "AAPL"),) and PAGE_READER in next_page.meta


def test_grouped_lane_starts_with_the_first_trading_day(grouped):
    [lane] = grouped.requests({"daily_prices": list(UNIVERSE)})
    assert path_and_query(lane) == ("/v2/aggs/grouped/locale/us/market/stocks/2024-03-27", {"adjusted": "false"})
    assert lane.meta["polygon_day"] == LANE_DAYS[0]
    assert lane.meta["polygon_months_total"] == 2
    assert lane.callback == grouped.parse_grouped_daily and lane.errback == grouped.grouped_daily_failed


def test_grouped_day_becomes_the_universes_bars_of_its_month_then_the_next_days_request(grouped):
    [lane] = grouped.requests({"daily_prices": list(UNIVERSE)})
    batch, next_day = feed(lane, GROUPED[date(2024, 3, 27)])
    assert batch.dataset == "daily_prices" and batch.partition == (2024, 3)
    assert records_of([batch]) == [bar for bar in served_bars(GROUPED[date(2024, 3, 27)], day="2024-03-27")
                                   if bar["ticker"] in UNIVERSE]
    assert isinstance(next_day, Request)
    assert path_and_query(next_day) == ("/v2/aggs/grouped/locale/us/market/stocks/2024-03-28", {"adjusted": "false"})
    assert next_day.meta["polygon_day"] == LANE_DAYS[1]
    assert next_day.meta[PAGE_READER].args[0] == "2024-03-28"


def test_grouped_last_day_of_a_month_completes_the_month_before_asking_the_next_one(grouped):
    [lane] = grouped.requests({"daily_prices": list(UNIVERSE)})
    _, second_day = feed(lane, GROUPED[date(2024, 3, 27)])
    batch, complete, next_month = feed(second_day, GROUPED[date(2024, 3, 28)])
    assert batch.partition == (2024, 3)
    assert {row["date"] for row in records_of([batch])} == {"2024-03-28"}
    assert complete == PartitionComplete("daily_prices", (2024, 3), 2)
    assert path_and_query(next_month)[0] == "/v2/aggs/grouped/locale/us/market/stocks/2024-04-01"
    assert next_month.meta["polygon_day"] == LANE_DAYS[2]


def test_grouped_bars_of_tickers_outside_the_universe_are_left_out_and_counted_once(grouped):
    [lane] = grouped.requests({"daily_prices": list(UNIVERSE)})
    served = {bar["T"] for bar in fixture_json(GROUPED[date(2024, 3, 27)])["results"]}
    assert served - set(UNIVERSE) == {"VO.WS"}
    batch, second_day = feed(lane, GROUPED[date(2024, 3, 27)])
    feed(second_day, GROUPED[date(2024, 3, 28)])
    assert "VO.WS" not in {row["ticker"] for row in records_of([batch])}
    assert grouped.unlisted_tickers == {"VO.WS"}
    stats = grouped.crawler.stats.get_stats()
    assert stats["daily_prices/tickers_not_in_universe"] == 1
    assert stats["daily_prices/tickers_not_in_universe_sample"] == ["VO.WS"]
