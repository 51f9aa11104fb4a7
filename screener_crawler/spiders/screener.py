from screener_crawler.spiders.base import PolygonSpider
from screener_crawler.spiders.corporate_actions import CorporateActionsFamily
from screener_crawler.spiders.financial_ratios import FinancialRatiosFamily
from screener_crawler.spiders.fundamentals import FundamentalsFamily
from screener_crawler.spiders.prices import PricesFamily
from screener_crawler.spiders.related_tickers import RelatedTickersFamily


class ScreenerSpider(FundamentalsFamily, CorporateActionsFamily, RelatedTickersFamily, PricesFamily,
                     FinancialRatiosFamily, PolygonSpider):
    """Every dataset of every ticker in one crawl, under one rate budget: the batch download."""

    name = "screener"
    families = (PricesFamily, CorporateActionsFamily, RelatedTickersFamily, FundamentalsFamily,
                FinancialRatiosFamily)
    """In the order their requests go to Scrapy. Daily prices first: on a whole universe they are
    the crawl's longest chain (two lanes of some 2,200 days, one request after the other).
    Statements last: a page of 100 tickers' statements is 6-10 MB, above
    ``SCRAPER_SLOT_MAX_ACTIVE_SIZE``, so while one waits for its writes Scrapy downloads
    nothing else (fed second, at 10,070 tickers they let 159 requests through in 8 minutes)."""
