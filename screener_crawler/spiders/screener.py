from screener_crawler.datasets import OPT_IN_DATASETS
from screener_crawler.ratios.inputs import RATIO_INPUTS
from screener_crawler.spiders.base import PolygonSpider
from screener_crawler.spiders.corporate_actions import CorporateActionsFamily
from screener_crawler.spiders.financial_ratios import FinancialRatiosFamily
from screener_crawler.spiders.fundamentals import FundamentalsFamily
from screener_crawler.spiders.prices import PricesFamily
from screener_crawler.spiders.related_tickers import RelatedTickersFamily
from screener_crawler.spiders.ticker_details import TickerDetailsFamily


class ScreenerSpider(FundamentalsFamily, CorporateActionsFamily, RelatedTickersFamily, TickerDetailsFamily,
                     PricesFamily, FinancialRatiosFamily, PolygonSpider):
    """Every dataset of every ticker in one crawl, under one rate budget: the batch download."""

    name = "screener"
    families = (PricesFamily, FundamentalsFamily, CorporateActionsFamily, RelatedTickersFamily,
                TickerDetailsFamily, FinancialRatiosFamily)
    """In the order their requests go to Scrapy (after ``leading_datasets``' requests): daily
    prices, whose grouped-daily lanes are the crawl's longest chain, statements, corporate
    actions, related companies."""
    leading_datasets = RATIO_INPUTS
    """The ratio inputs' requests go first, each that lists many tickers followed by requests of
    the other datasets (dividends, ticker events, related companies): the inputs are in long
    before the other requests end, so the ratio pass runs while those are made."""
    opt_in_datasets = OPT_IN_DATASETS
