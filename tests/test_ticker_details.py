"""The opt-in ``ticker_details`` dataset (``/v3/reference/tickers/{ticker}``): a recorded
response through the spider's callback, the opt-in, and a small crawl against the sandbox.
(That the sandbox answers in the recording's shape: tests/test_sandbox_api.py::test_ticker_details.)"""

import json
import urllib.request
from datetime import date

import pytest

from screener_crawler.coercion import validate_record
from screener_crawler.items import RecordBatch, UnitsComplete
from screener_crawler.sandbox import SandboxProcess
from screener_crawler.spiders.arguments import SpiderArgumentError
from screener_crawler.spiders.screener import ScreenerSpider
from screener_crawler.spiders.ticker_details import TickerDetailsSpider
from tests.crawl import read_dataset, run_crawl
from tests.recorded import open_spider, recorded_json, recorded_response

RECORDING = "ticker_details_v3_AAPL__py_mock.json"
KEY = "details-test-key"


@pytest.fixture
def spider():
    return open_spider(TickerDetailsSpider, tickers="AAPL")


def parsed(spider, fixture):
    [request] = spider.requests({"ticker_details": ["AAPL"]})
    assert request.url == "http://127.0.0.1:1/v3/reference/tickers/AAPL"
    return list(request.callback(recorded_response(fixture, url=request.url, meta=request.meta)))


def test_a_recorded_answer_becomes_the_tickers_details_row(spider):
    batch, done = parsed(spider, RECORDING)
    assert isinstance(batch, RecordBatch) and batch.dataset == "ticker_details"
    [record] = batch.records
    row = validate_record("ticker_details", record)
    assert row["ticker"] == "AAPL" and row["name"] == "Apple Inc." and row["cik"] == "0000320193"
    assert (row["sic_code"], row["sic_description"]) == ("3571", "ELECTRONIC COMPUTERS")
    assert row["share_class_shares_outstanding"] == 16319440000
    assert row["weighted_shares_outstanding"] == 16185181000
    assert row["list_date"] == date(1980, 12, 12)
    assert row["homepage_url"] == "https://www.apple.com"
    assert row["total_employees"] == 154000 and row["market_cap"] == 2488795282370.0
    assert done == UnitsComplete((("ticker_details", "AAPL"),))


def test_fields_kept_elsewhere_or_not_at_all_are_not_counted_as_unknown(spider):
    assert {"address", "branding", "description", "composite_figi"} <= set(recorded_json(RECORDING)["results"])
    parsed(spider, RECORDING)
    assert not [key for key in spider.crawler.stats.get_stats() if key.startswith("parser/unknown_field/")]


def test_ticker_details_are_opt_in_on_the_screener():
    assert "ticker_details" in ScreenerSpider.offered_datasets()
    assert "ticker_details" not in ScreenerSpider.parse_arguments()[1]
    assert "ticker_details" in ScreenerSpider.parse_arguments(ticker_details="1")[1]
    assert ScreenerSpider.parse_arguments(datasets="ticker_details")[1] == ("ticker_details",)
    assert TickerDetailsSpider.parse_arguments()[1] == ("ticker_details",)
    with pytest.raises(SpiderArgumentError, match="-a ticker_details= takes 1 or 0, not 'maybe'"):
        ScreenerSpider.parse_arguments(ticker_details="maybe")


def served_details(sandbox, ticker):
    request = urllib.request.Request(f"{sandbox.url}/v3/reference/tickers/{ticker}",
                                     headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["results"]


def test_a_crawl_writes_what_the_sandbox_served(tmp_path):
    with SandboxProcess(universe_size=30, delisted=3, keys=[KEY]) as sandbox:
        result = run_crawl("screener", ("tickers", "AAPL,MSFT"), ("datasets", "ticker_details"),
                           settings={"POLYGON_RATE_LIMIT": 0},
                           env={"POLYGON_BASE_URL": sandbox.url, "POLYGON_API_KEY": KEY,
                                "SCREENER_DATA_DIR": str(tmp_path)})
        served = {ticker: served_details(sandbox, ticker) for ticker in ("AAPL", "MSFT")}
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert (tmp_path / "ticker_details" / "part-0.parquet").exists()
    rows = {row["ticker"]: row for row in read_dataset(tmp_path, "ticker_details").to_pylist()}
    assert set(rows) == {"AAPL", "MSFT"}
    for ticker, row in rows.items():
        for column in ("sic_code", "sic_description", "share_class_shares_outstanding",
                       "weighted_shares_outstanding", "homepage_url", "total_employees"):
            assert row[column] == served[ticker][column], (ticker, column)
        assert row["list_date"].isoformat() == served[ticker]["list_date"]
