"""How many tickers each listing that takes a list of them asks for at once."""

from scrapy.utils.test import get_crawler

from screener_crawler.spiders.corporate_actions import CorporateActionsSpider
from screener_crawler.spiders.fundamentals import FundamentalsSpider

SETTINGS = {"POLYGON_BASE_URL": "http://127.0.0.1:1", "POLYGON_TICKERS_PER_REQUEST": 2,
            "POLYGON_CORPORATE_ACTION_TICKERS_PER_REQUEST": 3}
TICKERS = [f"T{number}" for number in range(7)]


def batch_sizes(spider_class, dataset):
    crawler = get_crawler(spider_class, SETTINGS)
    crawler.stats.open_spider()
    spider = spider_class.from_crawler(crawler, tickers=",".join(TICKERS))
    return [len(request.meta["polygon_units"]) for request in spider.requests({dataset: TICKERS})]


def test_dividends_and_splits_are_listed_in_batches_of_their_own_size():
    assert batch_sizes(CorporateActionsSpider, "dividends") == [3, 3, 1]
    assert batch_sizes(CorporateActionsSpider, "splits") == [3, 3, 1]


def test_statements_are_listed_in_batches_of_tickers_per_request():
    assert batch_sizes(FundamentalsSpider, "balance_sheets") == [2, 2, 2, 1]
