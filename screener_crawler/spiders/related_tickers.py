from screener_crawler.polygon.endpoints import ENDPOINTS
from screener_crawler.polygon.parsers import related_ticker_rows
from screener_crawler.spiders.base import PolygonSpider


class RelatedTickersFamily:
    """Related companies, one request per ticker (the endpoint is neither listed nor paged)."""

    datasets = ("related_tickers",)

    def requests(self, pending):
        for ticker in pending["related_tickers"]:
            yield self.ticker_request(ENDPOINTS["related_companies"], "related_tickers", ticker,
                                      self.parse_related_tickers)

    def parse_related_tickers(self, response):
        return self.parse_ticker_answer(response, related_ticker_rows)


class RelatedTickersSpider(RelatedTickersFamily, PolygonSpider):
    name = "related_tickers"
    families = (RelatedTickersFamily,)
