from screener_crawler.items import RatiosDue
from screener_crawler.ratios.input_cache import RATIO_INPUTS
from screener_crawler.spiders.base import PolygonSpider


class FinancialRatiosFamily:
    """``financial_ratios``: computed locally, never requested. A ticker whose inputs this crawl
    does not download is due at once (from what is on disk); the others become due in
    ``FinancialRatiosPipeline`` when their last input is written."""

    datasets = ("financial_ratios",)

    def requests(self, pending):
        for ticker in pending["financial_ratios"]:
            if not any(ticker in self.pending.get(dataset, ()) for dataset in RATIO_INPUTS):
                yield RatiosDue(ticker)


class FinancialRatiosSpider(FinancialRatiosFamily, PolygonSpider):
    """Recomputes the ratios from the data on disk, without requests (but the universe's when
    no ``-a tickers=`` is given and the one on disk is stale)."""

    name = "financial_ratios"
    families = (FinancialRatiosFamily,)
