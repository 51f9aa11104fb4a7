from screener_crawler.polygon.endpoints import ENDPOINTS, STATEMENT_ENDPOINTS_V1, fallback_of
from screener_crawler.polygon.fields import STATEMENTS, VX_TIMEFRAMES
from screener_crawler.polygon.pages import PAGE_READER, PageReader
from screener_crawler.polygon.page_tables import v1_statement_page
from screener_crawler.polygon.parsers import v1_statement_page_rows, vx_financials_rows
from screener_crawler.items import UpsertComplete
from screener_crawler.spiders.base import PolygonSpider, batched, page_json
from screener_crawler.spiders.update import upserted


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
        market-wide on v1, the universe's rows upserted by natural key; when the plan lacks v1,
        one market-wide vX listing per timeframe serves them all (``update_not_entitled``)."""
        universe = frozenset(self.tickers)
        self._vx_update_started = False
        for dataset, day in since.items():
            endpoint = STATEMENT_ENDPOINTS_V1[dataset]
            yield self.update_request(
                endpoint, dataset,
                {"filing_date.gte": day.isoformat(), "limit": self.page_size(endpoint), "sort": "period_end.asc"},
                meta={PAGE_READER: PageReader(v1_statement_page_rows, (dataset, universe), v1_statement_page)})

    def update_not_entitled(self, request):
        """Without v1 statements, the filings since the earliest watermark are listed on vX,
        once for every statement dataset updated (the other datasets' 403s add nothing)."""
        if request.meta["polygon_update"] not in STATEMENTS:
            yield from super().update_not_entitled(request)
            return
        if not self._vx_update_started:
            self._vx_update_started = True
            yield self.vx_update_listing(tuple(d for d in STATEMENTS if d in self.planned_upserts), VX_TIMEFRAMES)

    def vx_update_listing(self, datasets, timeframes):
        endpoint = ENDPOINTS["financials_vx"]
        since = min(self.update_since[dataset] for dataset in datasets)
        return self.update_request(
            endpoint, datasets[0],
            {"filing_date.gte": since.isoformat(), "timeframe": timeframes[0], "limit": self.page_size(endpoint),
             "sort": "filing_date", "order": "asc"},
            callback=self.parse_vx_update, meta={"polygon_update_datasets": datasets, "polygon_timeframes": timeframes})

    def parse_vx_update(self, response):
        """A page of vX filings since the watermark: a row per statement dataset for each of the
        universe's tickers a filing lists; then the next page, the next timeframe, or every
        dataset's ``UpsertComplete``."""
        payload = page_json(response)
        datasets, timeframes = response.meta["polygon_update_datasets"], response.meta["polygon_timeframes"]
        universe = frozenset(self.tickers)
        rows = (row for record in payload.get("results") or ()
                for ticker in dict.fromkeys(record.get("tickers") or ()) if ticker in universe
                for row in vx_financials_rows(record, ticker, timeframes[0]))
        yield from upserted(self.record_batches(rows, datasets))
        next_page = self.next_page_request(response, payload.get("next_url"))
        if next_page:
            yield next_page
        elif len(timeframes) > 1:
            yield self.vx_update_listing(datasets, timeframes[1:])
        else:
            yield from (UpsertComplete(dataset) for dataset in datasets)

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
