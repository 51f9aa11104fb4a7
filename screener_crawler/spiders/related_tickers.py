from screener_crawler.polygon.endpoints import ENDPOINTS
from screener_crawler.polygon.parsers import related_ticker_rows
from screener_crawler.spiders.base import PolygonSpider


class RelatedTickersFamily:
    """Related companies, one request per ticker (the endpoint is neither listed nor paged)."""

    datasets = ("related_tickers",)

    def requests(self, pending):
        for ticker in pending["related_tickers"]:
            yield self.api_request(
                ENDPOINTS["related_companies"], path_args={"ticker": ticker},
                callback=self.parse_related_tickers,
                errback=self.listing_failed,
                dont_filter=self.must_refetch("related_tickers", [ticker]),
                meta={"polygon_units": (("related_tickers", ticker),), "polygon_404_is_empty": True},
            )

    def parse_related_tickers(self, response):
        ticker = response.meta["polygon_units"][0][1]
        yield from self.record_batches(related_ticker_rows(response.json().get("results"), ticker))
        yield from self.units_complete(response.meta)


class RelatedTickersSpider(RelatedTickersFamily, PolygonSpider):
    name = "related_tickers"
    families = (RelatedTickersFamily,)
