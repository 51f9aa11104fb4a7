from screener_crawler.polygon.endpoints import ENDPOINTS, fallback_of
from screener_crawler.polygon.parsers import dividend_row, split_row, ticker_event_rows
from screener_crawler.spiders.base import PolygonSpider, batched, page_json

CORPORATE_ACTION_LISTINGS = {
    # dataset: (v1 endpoint, v1 sort, sort on the v1 endpoint's fallback, row parser)
    "dividends": (ENDPOINTS["dividends_v1"], "ex_dividend_date.asc", "ex_dividend_date", dividend_row),
    "splits": (ENDPOINTS["splits_v1"], "execution_date.asc", "execution_date", split_row),
}


class CorporateActionsFamily:
    """Dividends and splits (v1 listings over batches of
    ``POLYGON_CORPORATE_ACTION_TICKERS_PER_REQUEST`` tickers, ``ticker.any_of``; the v3
    endpoints per ticker when the plan lacks v1) and ticker events (per ticker, not paged)."""

    datasets = ("dividends", "splits", "ticker_events")

    def requests(self, pending):
        batch_size = self.settings.getint("POLYGON_CORPORATE_ACTION_TICKERS_PER_REQUEST")
        for dataset, tickers in pending.items():
            if dataset == "ticker_events":
                for ticker in tickers:
                    yield self.ticker_request(ENDPOINTS["ticker_events"], dataset, ticker,
                                              self.parse_ticker_events, {"types": "ticker_change"})
                continue
            endpoint, sort = CORPORATE_ACTION_LISTINGS[dataset][:2]
            for batch in batched(tickers, batch_size):
                yield self.api_request(
                    endpoint,
                    {"ticker.any_of": ",".join(batch), "limit": self.page_size(endpoint),
                     "sort": sort},
                    callback=self.parse_corporate_actions,
                    errback=self.listing_failed,
                    dont_filter=self.must_refetch(dataset, batch),
                    meta={"polygon_units": tuple((dataset, t) for t in batch), "polygon_source": "v1"},
                )

    def parse_corporate_actions(self, response):
        payload = page_json(response)
        units = response.meta["polygon_units"]
        dataset = units[0][0]
        wanted = {ticker for _, ticker in units}
        to_row = CORPORATE_ACTION_LISTINGS[dataset][3]
        source = response.meta["polygon_source"]
        rows = (to_row(record, source) for record in payload.get("results") or ())
        yield from self.record_batches(row for row in rows if row.row.get("ticker") in wanted)
        yield from self.listing_continues(response, payload.get("next_url"))

    def plan_not_entitled(self, request):
        """Without v1 dividends or splits, each ticker is listed on the v1 endpoint's fallback (v3)."""
        fallback = fallback_of(request.meta.get("polygon_endpoint"))
        if fallback is None or not set(fallback.datasets) <= CORPORATE_ACTION_LISTINGS.keys():
            yield from super().plan_not_entitled(request)
            return
        for dataset, ticker in request.meta["polygon_units"]:
            sort = CORPORATE_ACTION_LISTINGS[dataset][2]
            yield self.api_request(
                fallback,
                {"ticker": ticker, "limit": self.page_size(fallback), "sort": sort, "order": "asc"},
                callback=self.parse_corporate_actions,
                errback=self.listing_failed,
                dont_filter=True,
                meta={"polygon_units": ((dataset, ticker),), "polygon_source": "v3"},
            )

    def parse_ticker_events(self, response):
        return self.parse_ticker_answer(response, ticker_event_rows)


class CorporateActionsSpider(CorporateActionsFamily, PolygonSpider):
    name = "corporate_actions"
    families = (CorporateActionsFamily,)
