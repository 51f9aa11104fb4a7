from screener_crawler.items import UpsertComplete, UpsertFailed
from screener_crawler.middlewares.entitlement import PlanNotEntitled
from screener_crawler.polygon.endpoints import ENDPOINTS, fallback_of
from screener_crawler.polygon.page_tables import corporate_action_page
from screener_crawler.polygon.pages import PAGE_READER, PageReader
from screener_crawler.polygon.parsers import corporate_action_page_rows, ticker_event_rows
from screener_crawler.spiders.base import PolygonSpider, batched, failure_reason, page_json
from screener_crawler.spiders.update import upserted

CORPORATE_ACTION_LISTINGS = {
    # dataset: (v1 endpoint, v1 sort, sort on the v1 endpoint's fallback)
    "dividends": (ENDPOINTS["dividends_v1"], "ex_dividend_date.asc", "ex_dividend_date"),
    "splits": (ENDPOINTS["splits_v1"], "execution_date.asc", "execution_date"),
}
NEW_SINCE = {"dividends": "ex_dividend_date.gt", "splits": "execution_date.gt"}
"""The v1 filter that lists a dataset's records dated after a day."""
UPDATE_STEPS = (("find", "splits"), ("find", "dividends"), ("relist", "splits"), ("relist", "dividends"))
"""An update of dividends and splits, in order: find the tickers with new ones, then list those
tickers' whole histories again (each new dividend or split changes the adjustment factors of
the ticker's earlier ones; a split, its dividends' split-adjusted amounts)."""


def corporate_action_reader(dataset: str, source: str, tickers: tuple) -> PageReader:
    """How a page of ``dataset`` from ``source`` (v1 or v3) becomes the rows of ``tickers``."""
    return PageReader(corporate_action_page_rows, (dataset, source, tickers), corporate_action_page)


class CorporateActionsFamily:
    """Dividends and splits (v1 listings over batches of
    ``POLYGON_CORPORATE_ACTION_TICKERS_PER_REQUEST`` tickers, ``ticker.any_of``; the v3
    endpoints per ticker when the plan lacks v1), their pages read off the reactor's thread
    (``PageReader``), and ticker events (per ticker, not paged)."""

    datasets = ("dividends", "splits", "ticker_events")
    updated_datasets = ("dividends", "splits")

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
                    callback=self.parse_read_page,
                    errback=self.listing_failed,
                    dont_filter=self.must_refetch(dataset, batch),
                    meta={"polygon_units": tuple((dataset, t) for t in batch),
                          PAGE_READER: corporate_action_reader(dataset, "v1", batch)},
                )

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
                callback=self.parse_read_page,
                errback=self.listing_failed,
                dont_filter=True,
                meta={"polygon_units": ((dataset, ticker),),
                      PAGE_READER: corporate_action_reader(dataset, "v3", (ticker,))},
            )

    # --- -a update=1 -------------------------------------------------------------------------

    def update_requests(self, since):
        """The first step of ``UPDATE_STEPS`` for the datasets updated; each step's last page
        starts the next. The re-listed tickers' rows are upserted by natural key. On v1, or on
        v3 when the plan lacks v1 (market-wide finds alike; one listing per ticker re-listed)."""
        self._new_since = {dataset: set() for dataset in since}
        self._universe_set = frozenset(self.tickers)
        self._update_source = "v1"
        steps = tuple(step for step in UPDATE_STEPS if step[1] in since)
        yield from self.update_steps(steps)

    def update_steps(self, steps):
        """The request that starts ``steps``; a re-listing with no ticker to list completes at
        once."""
        while steps:
            (step, dataset), rest = steps[0], steps[1:]
            if step == "find":
                endpoint, params = self.update_listing(dataset)
                params[NEW_SINCE[dataset]] = self.update_since[dataset].isoformat()
                yield self.update_request(endpoint, dataset, params, callback=self.parse_new_since,
                                          errback=self.update_steps_failed, meta={"polygon_steps": steps})
                return
            tickers = sorted(self.relisted_tickers(dataset))
            per_request = self.settings.getint("POLYGON_CORPORATE_ACTION_TICKERS_PER_REQUEST")
            batches = tuple(batched(tickers, per_request if self._update_source == "v1" else 1))
            if batches:
                yield self.relist_request(dataset, batches, rest)
                return
            yield UpsertComplete(dataset)
            steps = rest

    def relisted_tickers(self, dataset):
        """The tickers whose ``dataset`` is listed again: those with a new record, and for
        dividends those with a new split too."""
        tickers = set(self._new_since.get(dataset, ()))
        return tickers | self._new_since.get("splits", set()) if dataset == "dividends" else tickers

    def update_listing(self, dataset):
        """(endpoint, base parameters) of a market-wide listing of ``dataset`` on the update's
        source (v1, or its v3 fallback)."""
        endpoint, sort, fallback_sort = CORPORATE_ACTION_LISTINGS[dataset]
        if self._update_source == "v1":
            return endpoint, {"limit": self.page_size(endpoint), "sort": sort}
        fallback = fallback_of(endpoint.name)
        return fallback, {"limit": self.page_size(fallback), "sort": fallback_sort, "order": "asc"}

    def relist_request(self, dataset, batches, rest):
        endpoint, params = self.update_listing(dataset)
        params["ticker.any_of" if self._update_source == "v1" else "ticker"] = ",".join(batches[0])
        return self.update_request(
            endpoint, dataset, params, callback=self.parse_relisted, errback=self.update_steps_failed,
            meta={"polygon_batches": batches, "polygon_steps": ((("relist", dataset),) + rest),
                  PAGE_READER: corporate_action_reader(dataset, self._update_source, batches[0])})

    def parse_new_since(self, response):
        """A page of records dated after the watermark: their tickers (of the universe) are
        listed again."""
        dataset = response.meta["polygon_update"]
        payload = page_json(response)
        found = {record.get("ticker") for record in payload.get("results") or ()}
        self._new_since[dataset] |= found & self._universe_set
        next_page = self.next_page_request(response, payload.get("next_url"))
        if next_page:
            yield next_page
        else:
            self.crawler.stats.set_value(f"update/tickers_with_new/{dataset}", len(self._new_since[dataset]))
            yield from self.update_steps(response.meta["polygon_steps"][1:])

    def parse_relisted(self, response):
        page = self.read_page(response)
        dataset = response.meta["polygon_update"]
        batches = response.meta["polygon_batches"]
        yield from upserted(page.batches)
        next_page = self.next_page_request(response, page.next_url)
        rest = response.meta["polygon_steps"][1:]
        if next_page:
            yield next_page
        elif len(batches) > 1:
            yield self.relist_request(dataset, batches[1:], rest)
        else:
            yield UpsertComplete(dataset)
            yield from self.update_steps(rest)

    def update_steps_failed(self, failure):
        """A step the plan lacks (v1) starts again on v3; one that fails for good fails its
        dataset's update and every later step's."""
        if failure.check(PlanNotEntitled) and self._update_source == "v1":
            self._update_source = "v3"
            yield from self.update_steps(failure.request.meta["polygon_steps"])
            return
        reason = failure_reason(failure)
        for dataset in dict.fromkeys(dataset for _, dataset in failure.request.meta["polygon_steps"]):
            yield UpsertFailed(dataset, reason)

    def parse_ticker_events(self, response):
        return self.parse_ticker_answer(response, ticker_event_rows)


class CorporateActionsSpider(CorporateActionsFamily, PolygonSpider):
    name = "corporate_actions"
    families = (CorporateActionsFamily,)
