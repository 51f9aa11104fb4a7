"""The request plans of ``-a tickers=``: the screener's (every family's requests, in the order
they go to Scrapy, the ratio inputs first with other requests between them; units the ledger lists as done are not requested) and
the financial ratios spider's (no request: the ratios are computed from the data on disk)."""

from itertools import zip_longest

from screener_crawler.ledger import Ledger
from screener_crawler.spiders.financial_ratios import FinancialRatiosSpider
from screener_crawler.spiders.screener import ScreenerSpider
from tests.recorded import open_spider

TICKERS = ("AAPL", "MSFT")


def planned(spider):
    """(endpoint, units) of every request of the plan, in order."""
    spider.plan_crawl()
    return [(request.meta["polygon_endpoint"], request.meta["polygon_units"]) for request in spider.unit_requests()]


def per_ticker(endpoint, dataset, tickers=TICKERS):
    return [(endpoint, ((dataset, ticker),)) for ticker in tickers]


def batch(endpoint, dataset, tickers=TICKERS):
    return [(endpoint, tuple((dataset, ticker) for ticker in tickers))]


def screener(tmp_path, **settings):
    return open_spider(ScreenerSpider, tmp_path, {"PRICES_START": "2024-01-02", "PRICES_END": "2024-03-28", **settings},
                       tickers=",".join(TICKERS))


RATIO_INPUT_REQUESTS = [
    *per_ticker("daily_bars", "daily_prices"),
    *batch("balance_sheets_v1", "balance_sheets"),
    *batch("income_statements_v1", "income_statements"),
    *batch("cash_flow_v1", "cash_flow"),
    *batch("splits_v1", "splits"),
]
OTHER_REQUESTS = [
    *batch("dividends_v1", "dividends"),
    *per_ticker("ticker_events", "ticker_events"),
    *per_ticker("related_companies", "related_tickers"),
]


def test_the_plan_asks_the_ratio_inputs_first_with_the_other_datasets_beside_their_batches(tmp_path):
    spider = screener(tmp_path, SCREENER_REQUESTS_BESIDE_LEADING=1)
    prices, batches = RATIO_INPUT_REQUESTS[:2], RATIO_INPUT_REQUESTS[2:]
    assert planned(spider) == [*prices, *(request for pair in zip_longest(batches, OTHER_REQUESTS)
                                          for request in pair if request is not None)]
    stats = spider.crawler.stats.get_stats()
    assert stats["units/planned"] == len(TICKERS) * len(spider.datasets)
    assert "ticker_details" not in spider.datasets and "financial_ratios" in spider.datasets


def test_with_none_beside_them_the_ratio_inputs_are_all_asked_first(tmp_path):
    assert planned(screener(tmp_path, SCREENER_REQUESTS_BESIDE_LEADING=0)) == RATIO_INPUT_REQUESTS + OTHER_REQUESTS


def test_units_the_ledger_lists_as_done_are_not_asked_again(tmp_path):
    ledger = Ledger.load(tmp_path / "progress.json")
    ledger.mark_done("related_tickers", "AAPL", 10)
    ledger.mark_done("dividends", "MSFT", 1)
    ledger.save()
    plan = planned(screener(tmp_path))
    assert per_ticker("related_companies", "related_tickers", ["MSFT"]) == [
        entry for entry in plan if entry[0] == "related_companies"]
    assert batch("dividends_v1", "dividends", ["AAPL"]) == [entry for entry in plan if entry[0] == "dividends_v1"]
    assert batch("splits_v1", "splits") == [entry for entry in plan if entry[0] == "splits_v1"]


def test_the_financial_ratios_spider_asks_nothing_and_plans_a_unit_per_ticker(tmp_path):
    spider = open_spider(FinancialRatiosSpider, tmp_path, tickers=",".join(TICKERS))
    assert planned(spider) == []
    assert list(spider.pending["financial_ratios"]) == list(TICKERS)
    assert spider.crawler.stats.get_value("units/planned") == len(TICKERS)
