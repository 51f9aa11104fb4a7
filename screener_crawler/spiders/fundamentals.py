from screener_crawler.polygon.endpoints import ENDPOINTS, STATEMENT_ENDPOINTS_V1
from screener_crawler.polygon.fields import STATEMENTS, VX_TIMEFRAMES
from screener_crawler.polygon.parsers import v1_statement_rows, vx_financials_rows
from screener_crawler.spiders.base import PolygonSpider, batched


class FundamentalsSpider(PolygonSpider):
    """Balance sheets, income statements and cash-flow statements, every timeframe.

    On the v1 plan one listing per statement serves a batch of tickers (``tickers.any_of``)
    with all timeframes. When the plan lacks v1 (403), each ticker of the batch is fetched from
    vX instead: one listing per timeframe, chained, each filing feeding all three datasets.
    """

    name = "fundamentals"

    async def start(self):
        batch_size = self.settings.getint("POLYGON_TICKERS_PER_REQUEST")
        for batch in batched(self.tickers, batch_size):
            for dataset, endpoint in STATEMENT_ENDPOINTS_V1.items():
                yield self.api_request(
                    endpoint,
                    {"tickers.any_of": ",".join(batch), "limit": self.page_size(endpoint),
                     "sort": "period_end.asc"},
                    callback=self.parse_v1_statements,
                    errback=self.listing_failed,
                    meta={"polygon_units": tuple((dataset, t) for t in batch)},
                )

    def parse_v1_statements(self, response):
        payload = response.json()
        units = response.meta["polygon_units"]
        dataset = units[0][0]
        wanted = {ticker for _, ticker in units}
        for record in payload.get("results") or ():
            yield from self.record_items(v1_statement_rows(dataset, record, wanted))
        next_page = self.next_page_request(response, payload)
        if next_page:
            yield next_page
        else:
            yield from self.units_complete(response.meta)

    def vx_listing(self, ticker, timeframes=VX_TIMEFRAMES):
        endpoint = ENDPOINTS["financials_vx"]
        return self.api_request(
            endpoint,
            {"ticker": ticker, "timeframe": timeframes[0], "limit": self.page_size(endpoint),
             "sort": "filing_date", "order": "asc"},
            callback=self.parse_vx_financials,
            errback=self.listing_failed,
            meta={"polygon_units": tuple((dataset, ticker) for dataset in STATEMENTS),
                  "polygon_timeframes": timeframes},
        )

    def parse_vx_financials(self, response):
        payload = response.json()
        timeframes = response.meta["polygon_timeframes"]
        ticker = response.meta["polygon_units"][0][1]
        for record in payload.get("results") or ():
            yield from self.record_items(vx_financials_rows(record, ticker, timeframes[0]))
        next_page = self.next_page_request(response, payload)
        if next_page:
            yield next_page
        elif len(timeframes) > 1:
            yield self.vx_listing(ticker, timeframes[1:])
        else:
            yield from self.units_complete(response.meta)

    def plan_not_entitled(self, request):
        """Without v1, the balance-sheet listing's batch moves to vX; the other two statement
        listings of the batch are covered by the same vX filings."""
        units = request.meta["polygon_units"]
        if units[0][0] == "balance_sheets":
            for _, ticker in units:
                yield self.vx_listing(ticker)
