from screener_crawler.polygon.endpoints import ENDPOINTS
from screener_crawler.polygon.parsers import related_ticker_rows
from screener_crawler.spiders.base import PolygonSpider, page_json


class RelatedTickersFamily:
    """Related companies, one request per ticker (the endpoint is neither listed nor paged)."""

    datasets = ("related_tickers",)

    def requests(self, pending):
        for ticker in pending["related_tickers"]:
            yield self.ticker_request(ENDPOINTS["related_companies"], "related_tickers", ticker,
                                      self.parse_related_tickers)

    def parse_related_tickers(self, response):
        ticker = response.meta["polygon_units"][0][1]
        yield from self.record_batches(related_ticker_rows(page_json(response).get("results"), ticker))
        yield from self.units_complete(response.meta)


class RelatedTickersSpider(RelatedTickersFamily, PolygonSpider):
    name = "related_tickers"
    families = (RelatedTickersFamily,)
