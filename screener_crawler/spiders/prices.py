from datetime import date

from screener_crawler.polygon.endpoints import ENDPOINTS
from screener_crawler.polygon.parsers import daily_bar_row
from screener_crawler.spiders.base import PolygonSpider


class PricesFamily:
    """Daily bars, as traded (``adjusted=false``: the same basis as the as-reported share
    counts the valuation ratios pair them with), from ``PRICES_START`` to today, one listing
    per ticker."""

    datasets = ("daily_prices",)

    def requests(self, pending):
        endpoint = ENDPOINTS["daily_bars"]
        start, end = self.settings.get("PRICES_START"), date.today().isoformat()
        params = {"adjusted": "false", "sort": "asc", "limit": self.page_size(endpoint)}
        for ticker in pending["daily_prices"]:
            yield self.ticker_request(endpoint, "daily_prices", ticker, self.parse_daily_bars, params,
                                      start=start, end=end)

    def parse_daily_bars(self, response):
        payload = response.json()
        ticker = response.meta["polygon_units"][0][1]
        adjusted = bool(payload.get("adjusted", False))
        yield from self.record_batches(daily_bar_row(bar, ticker, adjusted) for bar in payload.get("results") or ())
        yield from self.listing_continues(response, payload)


class PricesSpider(PricesFamily, PolygonSpider):
    name = "prices"
    families = (PricesFamily,)
