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
    families = (PricesFamily, FundamentalsFamily, CorporateActionsFamily, RelatedTickersFamily,
                FinancialRatiosFamily)
    """In the order their requests go to Scrapy: daily prices first, as on a whole universe they
    are the crawl's longest chain (two lanes of some 2,200 days, one request after the other)."""
