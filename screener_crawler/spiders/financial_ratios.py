from screener_crawler.spiders.base import PolygonSpider


class FinancialRatiosFamily:
    """``financial_ratios``: computed locally, never requested. ``FinancialRatiosPipeline``
    computes the ratios of the tickers that need them in one pass, once every download of the
    crawl has ended."""

    datasets = ("financial_ratios",)

    def requests(self, pending):
        return iter(())


class FinancialRatiosSpider(FinancialRatiosFamily, PolygonSpider):
    """Recomputes the ratios from the data on disk, without requests (but the universe's when
    no ``-a tickers=`` is given and the one on disk is stale)."""

    name = "financial_ratios"
    families = (FinancialRatiosFamily,)
