from screener_crawler.polygon.endpoints import ENDPOINTS, STATEMENT_ENDPOINTS_V1, fallback_of
from screener_crawler.polygon.fields import STATEMENTS, VX_TIMEFRAMES
from screener_crawler.polygon.pages import PAGE_READER, PageReader
from screener_crawler.polygon.page_tables import v1_statement_page
from screener_crawler.polygon.parsers import v1_statement_page_rows, vx_financials_rows
from screener_crawler.spiders.base import PolygonSpider, batched, page_json


class FundamentalsFamily:
    """Balance sheets, income statements and cash-flow statements, every timeframe.

    On the v1 plan one listing per statement serves a batch of tickers (``tickers.any_of``,
    ``POLYGON_TICKERS_PER_REQUEST`` of them) with all timeframes. When the plan lacks v1 (403),
    each ticker is fetched from vX instead: one listing per timeframe, chained, each filing
    feeding every statement dataset still pending for the ticker.
    """

    datasets = STATEMENTS
    updated_datasets = STATEMENTS

    def update_requests(self, since):
        """``-a update=1``: each statement's filings since its watermark (that day included),
        market-wide on v1, the universe's rows upserted by natural key."""
        universe = frozenset(self.tickers)
        for dataset, day in since.items():
            endpoint = STATEMENT_ENDPOINTS_V1[dataset]
            yield self.update_request(
                endpoint, dataset,
                {"filing_date.gte": day.isoformat(), "limit": self.page_size(endpoint), "sort": "period_end.asc"},
                meta={PAGE_READER: PageReader(v1_statement_page_rows, (dataset, universe), v1_statement_page)})

    def requests(self, pending):
        batch_size = self.settings.getint("POLYGON_TICKERS_PER_REQUEST")
        self._vx_scheduled = set()
        for dataset, tickers in pending.items():
            endpoint = STATEMENT_ENDPOINTS_V1[dataset]
            for batch in batched(tickers, batch_size):
                yield self.api_request(
                    endpoint,
                    {"tickers.any_of": ",".join(batch), "limit": self.page_size(endpoint),
                     "sort": "period_end.asc"},
                    callback=self.parse_read_page,
                    errback=self.listing_failed,
                    dont_filter=self.must_refetch(dataset, batch),
                    meta={"polygon_units": tuple((dataset, t) for t in batch),
                          PAGE_READER: PageReader(v1_statement_page_rows, (dataset, batch), v1_statement_page)},
                )

    def vx_listing(self, ticker, datasets, timeframes=VX_TIMEFRAMES):
        endpoint = ENDPOINTS["financials_vx"]
        return self.api_request(
            endpoint,
            {"ticker": ticker, "timeframe": timeframes[0], "limit": self.page_size(endpoint),
             "sort": "filing_date", "order": "asc"},
            callback=self.parse_vx_financials,
            errback=self.listing_failed,
            dont_filter=True,
            meta={"polygon_units": tuple((dataset, ticker) for dataset in datasets),
                  "polygon_timeframes": timeframes},
        )

    def parse_vx_financials(self, response):
        payload = page_json(response)
        units = response.meta["polygon_units"]
        timeframes = response.meta["polygon_timeframes"]
        ticker = units[0][1]
        datasets = [dataset for dataset, _ in units]
        results = payload.get("results") or ()
        yield from self.record_batches(
            (row for record in results for row in vx_financials_rows(record, ticker, timeframes[0])), datasets)
        next_page = self.next_page_request(response, payload.get("next_url"))
        if next_page:
            yield next_page
        elif len(timeframes) > 1:
            yield self.vx_listing(ticker, datasets, timeframes[1:])
        else:
            yield from self.units_complete(response.meta)

    def plan_not_entitled(self, request):
        """Without v1 statements, each ticker of the batch moves to one chain of the statements'
        fallback (vX) that serves every dataset of the fallback pending for it; later 403s for the
        same ticker add nothing."""
        fallback = fallback_of(request.meta.get("polygon_endpoint"))
        if fallback is not ENDPOINTS["financials_vx"]:
            yield from super().plan_not_entitled(request)
            return
        for _, ticker in request.meta["polygon_units"]:
            if ticker in self._vx_scheduled:
                continue
            self._vx_scheduled.add(ticker)
            datasets = [d for d in fallback.datasets if ticker in self.pending.get(d, ())]
            yield self.vx_listing(ticker, datasets)


class FundamentalsSpider(FundamentalsFamily, PolygonSpider):
    name = "fundamentals"
    families = (FundamentalsFamily,)
