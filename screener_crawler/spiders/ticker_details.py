from screener_crawler.polygon.endpoints import ENDPOINTS
from screener_crawler.polygon.parsers import ticker_details_rows
from screener_crawler.spiders.base import PolygonSpider


class TickerDetailsFamily:
    """A ticker's reference details (SIC code, shares outstanding, list date, homepage), one
    request per ticker (the endpoint is neither listed nor paged)."""

    datasets = ("ticker_details",)

    def requests(self, pending):
        for ticker in pending["ticker_details"]:
            yield self.ticker_request(ENDPOINTS["ticker_details"], "ticker_details", ticker,
                                      self.parse_ticker_details)

    def parse_ticker_details(self, response):
        return self.parse_ticker_answer(response, ticker_details_rows)


class TickerDetailsSpider(TickerDetailsFamily, PolygonSpider):
    name = "ticker_details"
    families = (TickerDetailsFamily,)
