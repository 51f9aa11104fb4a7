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
        window = {"start": self.settings.get("PRICES_START"), "end": date.today().isoformat()}
        for ticker in pending["daily_prices"]:
            yield self.api_request(
                endpoint, {"adjusted": "false", "sort": "asc", "limit": self.page_size(endpoint)},
                path_args={"ticker": ticker, **window},
                callback=self.parse_daily_bars,
                errback=self.listing_failed,
                dont_filter=self.must_refetch("daily_prices", [ticker]),
                meta={"polygon_units": (("daily_prices", ticker),), "polygon_404_is_empty": True},
            )

    def parse_daily_bars(self, response):
        payload = response.json()
        ticker = response.meta["polygon_units"][0][1]
        adjusted = bool(payload.get("adjusted", False))
        yield from self.record_batches(daily_bar_row(bar, ticker, adjusted) for bar in payload.get("results") or ())
        next_page = self.next_page_request(response, payload)
        if next_page:
            yield next_page
        else:
            yield from self.units_complete(response.meta)


class PricesSpider(PricesFamily, PolygonSpider):
    name = "prices"
    families = (PricesFamily,)
