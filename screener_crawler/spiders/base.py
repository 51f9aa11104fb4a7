"""What every Polygon spider shares: its ``-a`` arguments (checked in ``arguments``), the ticker
universe, the market's "today" (the last complete trading day at the server's time), the requests
of the units still to do (``planning`` says which), request building and ``next_url`` paging.

A spider is a set of *families* (mixins in the sibling modules), each owning some datasets and
knowing how to request them for a set of tickers. Spiders stay thin: they say which endpoint to
call and how a page becomes items. Auth, the rate cap, retries and plan entitlements are
middlewares' business; storage and the ledger are the pipelines'; what is left to do, from the
universe and the ledger on disk, is ``planning``'s.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from itertools import chain, islice
from urllib.parse import parse_qs, urlencode, urlsplit

import scrapy
from scrapy import signals
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred

from screener_crawler.items import RecordBatch, TickersRenamed, UnitsComplete, UnitFailed
from screener_crawler.middlewares.entitlement import ApiKeyRejected, PlanNotEntitled
from screener_crawler.middlewares.retry import PAGE_JSON
from screener_crawler.polygon.endpoints import ENDPOINTS, TICKER_PATTERN
from screener_crawler.polygon.pages import PAGE_READ, PAGE_READER, group_rows, read_page
from screener_crawler.polygon.parsers import server_time, universe_row
from screener_crawler.polygon.payload import decode_json
from screener_crawler.planning import (
    UNIVERSE_IDENTITY, plan_units, renames_between, universe_identities, universe_on_disk,
)
from screener_crawler.spiders.arguments import (
    SpiderArguments, check_update, parse_datasets, parse_flag, parse_shard, parse_tickers,
)
from screener_crawler.spiders.failures import failure_reason
from screener_crawler.spiders.update import UpdateListings
from screener_crawler.trading_calendar import last_complete_trading_day

logger = logging.getLogger(__name__)

UNIVERSE_UNIT = ("universe", None)
MARKET_TODAY_UNKNOWN = "market_today_unknown"
"""The finish reason of a crawl stopped because the server did not say what day it is."""


def page_json(response):
    """The page's JSON, taken out of the response: the retry middleware decoded it to check the
    body, and the response lives until every item of the page is through the pipelines (a
    100-ticker statement page is 11 MB of body and 23 MB decoded). ``response.json()`` would
    keep a second copy on the response for that long."""
    if PAGE_JSON in response.meta:
        return response.meta.pop(PAGE_JSON)
    return decode_json(response.body)


def interleaved(first: Iterable, second: Iterable, second_per_first: int,
                followed: Callable[[object], bool] = lambda item: True) -> Iterator:
    """Each item of ``first`` followed, when ``followed(item)``, by up to ``second_per_first``
    of ``second``; then what is left of ``second``."""
    second = iter(second)
    for item in first:
        yield item
        if followed(item):
            yield from islice(second, second_per_first)
    yield from second


def lists_many_tickers(request: scrapy.Request) -> bool:
    """Whether ``request`` lists many tickers at once: a market-wide listing (no unit of its
    own) or a batch of tickers."""
    return len(request.meta.get("polygon_units", ())) != 1


def batched(items, size):
    """``items`` in consecutive tuples of at most ``size`` (itertools.batched is Python 3.12+)."""
    items = list(items)
    for start in range(0, len(items), size):
        yield tuple(items[start:start + size])


class RepeatedCursorError(Exception):
    """The API sent a ``next_url`` whose cursor this listing has already followed."""


class PolygonSpider(UpdateListings, scrapy.Spider):
    families = ()
    """Family mixin classes; each has ``datasets`` and ``requests(spider, pending)``, and may
    have ``needs_market_today(spider)``, and, for ``-a update=1``, ``updated_datasets`` with
    ``update_requests(spider, since)`` (the market's rows of those datasets since a day)."""
    leading_datasets = ()
    """Datasets whose requests go first. Each of them that lists many tickers at once (a
    market-wide day, a batch of tickers) is followed by ``SCREENER_REQUESTS_BESIDE_LEADING``
    requests of the other datasets: its large page takes the CPU while it is read, staged and
    published, and the requests beside it keep the rate cap busy meanwhile."""
    opt_in_datasets = ()
    """Datasets offered but left out unless asked for, by ``-a <dataset>=1`` or by name in
    ``-a datasets=``."""

    def __init__(self, tickers=None, datasets=None, force=None, refill=None, shard=None, update=None, *args,
                 **kwargs):
        super().__init__(*args, **kwargs)
        arguments = self.parse_arguments(tickers, datasets, force, refill, shard, update, **kwargs)
        self.tickers, self.datasets, self.force, self.refill, self.shard, self.update = arguments
        self.whole_universe = self.tickers is None and self.shard is None
        """The crawl covers the universe (no ``-a tickers=``, no shard): what it completes may
        set a dataset's watermark."""
        self.update_since = {}
        """dataset -> its watermark, for the datasets ``-a update=1`` lists the rows of since."""
        self.planned_upserts = set()
        """The datasets whose update listings this crawl sends (those behind the market's today)."""
        self.renamed_tickers = {}
        """Old ticker -> new, of the tickers an update finds listed under a new symbol."""
        self.pending = {}
        """dataset -> tickers (an ordered dict used as a set) this crawl still has to do."""
        self._universe_tickers = []
        self._universe_now, self._universe_before = {}, {}
        """Ticker -> its rows' ``UNIVERSE_IDENTITY`` in this crawl's listing, and on disk before it."""
        self._universe_listed = Deferred()
        self._refetch = {}
        """dataset -> tickers that failed in an earlier crawl (``must_refetch``)."""
        self.market_today: date | None = None
        """The last trading day whose session is complete at the API server's time, asked
        before the unit requests when a family needs it (``market_today_needed``); None when
        the crawl did not ask."""
        self._market_today_learned = Deferred()

    @classmethod
    def parse_arguments(cls, tickers=None, datasets=None, force=None, refill=None, shard=None, update=None,
                        **others) -> SpiderArguments:
        """The spider's ``-a`` arguments, checked, or a ``SpiderArgumentError`` that says what is
        wrong."""
        opted_in = {name for name in cls.opt_in_datasets if parse_flag(others.get(name), name)}
        default = tuple(d for d in cls.offered_datasets() if d not in cls.opt_in_datasets or d in opted_in)
        return check_update(SpiderArguments(
            parse_tickers(tickers), parse_datasets(datasets, cls.offered_datasets(), default),
            parse_flag(force, "force"), set(parse_tickers(refill, "refill") or ()), parse_shard(shard),
            parse_flag(update, "update")))

    @classmethod
    def offered_datasets(cls):
        return tuple(d for family in cls.families for d in family.datasets)

    # --- what to do ---------------------------------------------------------------------------

    async def start(self):
        """The universe's listing first when there is no fresh one on disk; the market status
        when a family needs the market's today; then the requests of every unit, each given to
        Scrapy only when its downloader has room (``ExecutionEngine.needs_backout``; Scrapy's
        "lazy start requests"), so that the scheduler holds a few requests, not every unit's.
        Requests that follow a response (next pages, the next day of a lane) go first: Scrapy
        sends start requests after other requests of the same priority."""
        if self.tickers is None and not self.force and not self.update:
            self.tickers = universe_on_disk(self.settings)
        if self.update:
            self._universe_before = universe_identities(self.settings)
        if self.tickers is None:
            self.crawler.stats.inc_value("units/planned")
            yield self.universe_listing(active=True)
            self.tickers = await maybe_deferred_to_future(self._universe_listed)
            if self.tickers is None:
                return
        self.plan_crawl()
        if self.market_today_needed():
            yield self.market_status_request()
            if await maybe_deferred_to_future(self._market_today_learned) is None:
                return
        self.plan_update()
        if self.renamed_tickers:
            yield TickersRenamed(self.renamed_tickers)
        for request in self.unit_requests():
            if self.crawler.engine.needs_backout():
                await self.crawler.signals.wait_for(signals.scheduler_empty)
            yield request

    def plan_crawl(self):
        """The units of this crawl the ledger does not list as done (``pending``), counted in
        the stats."""
        self.tickers = self.shard_tickers(self.tickers)
        changed = {t for t in self.tickers if self._universe_now.get(t) != self._universe_before.get(t)} \
            if self.update else set()
        if self.update and self._universe_now:
            self.renamed_tickers = renames_between(self._universe_before, self._universe_now)
            self.crawler.stats.set_value("update/tickers_renamed", len(self.renamed_tickers))
            for old, new in sorted(self.renamed_tickers.items()):
                logger.info("%s is now listed as %s: its rows move to %s's history", old, new, new)
        self._universe_now, self._universe_before = {}, {}  # only the plan needs them
        plan = plan_units(self.settings, self.datasets, self.tickers, self.force, self.refill, self.update, changed)
        self.pending, self._refetch = plan.pending, plan.refetch
        self.update_since = {d: day for d, day in plan.watermarks.items() if d in self.updated_by_listing()}
        stats = self.crawler.stats
        for dataset in self.datasets:
            stats.inc_value("units/planned", len(self.pending[dataset]))
            stats.inc_value("units/skipped_done", len(self.tickers) - len(self.pending[dataset]))
        stats.set_value("tickers/total", len(self.tickers))
        stats.inc_value("tickers/complete", plan.complete_tickers(self.tickers))

    def unit_requests(self):
        """Requests for every unit ``plan_crawl`` left pending, and the update listings
        ``plan_update`` planned."""
        for family in self.families:
            since = {d: self.update_since[d] for d in getattr(family, "updated_datasets", ())
                     if d in self.planned_upserts}
            if since:
                yield from family.update_requests(self, since)
        leading, rest = [], []
        for family in self.families:
            for family_requests, leads in ((leading, True), (rest, False)):
                pending = {d: list(self.pending[d]) for d in family.datasets if self.pending.get(d)
                           and (d in self.leading_datasets) == leads}
                if pending:
                    family_requests.append(family.requests(self, pending))
        yield from interleaved(chain.from_iterable(leading), chain.from_iterable(rest),
                               self.settings.getint("SCREENER_REQUESTS_BESIDE_LEADING"), lists_many_tickers)

    def shard_tickers(self, tickers):
        """``tickers`` (the universe's or ``-a tickers=``), or only those of ``-a shard=K/N``."""
        if self.shard is None:
            return tickers
        selected = self.shard.select(tickers)
        self.crawler.stats.set_value("shard", str(self.shard))
        logger.info("Shard %s: %d of %d tickers", self.shard, len(selected), len(tickers))
        return selected

    def must_refetch(self, dataset, tickers):
        """Whether a unit's first request must bypass the duplicate filter: it is redone on
        purpose (force, refill) or failed before, so JOBDIR's memory of it is stale."""
        failed = self._refetch.get(dataset, ())
        return self.force or any(t in self.refill or t in failed for t in tickers)

    # --- the ticker universe ------------------------------------------------------------------

    def universe_listing(self, active):
        endpoint = ENDPOINTS["tickers"]
        params = {"market": "stocks", "type": "CS", "active": "true" if active else "false",
                  "limit": self.page_size(endpoint), "sort": "ticker", "order": "asc"}
        return self.api_request(endpoint, params, callback=self.parse_universe, errback=self.universe_failed,
                                dont_filter=True, meta={"polygon_units": (UNIVERSE_UNIT,),
                                                        "polygon_active": active})

    def parse_universe(self, response):
        """The universe's rows; on its last page, the ticker list goes to ``start``."""
        try:
            payload = page_json(response)
            rows = [universe_row(record) for record in payload.get("results") or ()]
            self._universe_tickers.extend(parsed.row.get("ticker") for parsed in rows)
            for parsed in rows:
                self._universe_now.setdefault(parsed.row.get("ticker"), set()).add(
                    tuple(parsed.row.get(column) for column in UNIVERSE_IDENTITY))
            yield from self.record_batches(rows)
            next_page = self.next_page_request(response, payload.get("next_url"))
        except Exception:
            self.universe_listed(None)
            raise
        if next_page:
            yield next_page
        elif response.meta["polygon_active"]:
            yield self.universe_listing(active=False)
        else:
            yield UnitsComplete((UNIVERSE_UNIT,))
            listed = [t for t in dict.fromkeys(self._universe_tickers) if t]
            tickers = [t for t in listed if TICKER_PATTERN.match(t)]
            skipped = sorted(set(listed) - set(tickers))
            if skipped:
                logger.warning("Skipping %d universe ticker(s) that are not plain symbols: %s",
                               len(skipped), ", ".join(skipped[:10]))
            logger.info("Universe: %d common stocks, active and delisted", len(tickers))
            self.universe_listed(tickers)

    def universe_failed(self, failure):
        self.universe_listed(None)
        yield from self.listing_failed(failure)

    def universe_listed(self, tickers):
        """Hands the universe's tickers, or None when its listing failed, to ``start``, which
        waits for them to request the units."""
        if not self._universe_listed.called:
            self._universe_listed.callback(tickers)

    # --- the market's today -------------------------------------------------------------------

    def market_today_needed(self) -> bool:
        """Whether the crawl needs the market's today: an update's end; a family of this crawl's
        pending units that needs it (its ``needs_market_today``: the prices without
        ``PRICES_END``); or a crawl of the whole universe with units to do, which sets the
        watermarks of the datasets it completes."""
        pending = {d for d in self.datasets if self.pending.get(d)}
        return self.update or (self.whole_universe and bool(pending)) or any(
            family.needs_market_today(self) for family in self.families
            if hasattr(family, "needs_market_today") and pending & set(family.datasets))

    def market_status_request(self):
        """One small request for the server's time; the crawl waits for its answer."""
        return self.api_request(ENDPOINTS["market_status"], callback=self.parse_market_status,
                                errback=self.market_status_failed, dont_filter=True)

    def parse_market_status(self, response):
        """The market's today from the server's time, handed to ``start``."""
        try:
            moment = server_time(page_json(response))
            today = last_complete_trading_day(moment)
        except Exception as error:  # anything unread would leave ``start`` waiting
            self.market_today_unknown(f"unreadable answer: {error}")
            return
        self.market_today = today
        stats = self.crawler.stats
        stats.set_value("market/today", today.isoformat())
        stats.set_value("market/server_time", moment.isoformat())
        logger.info("Market data through %s (server time %s)", today, moment.isoformat())
        self.market_today_learned(today)

    def market_status_failed(self, failure):
        if failure.check(ApiKeyRejected):
            self.market_today_learned(None)  # the crawl is stopping, and says why
        else:
            self.market_today_unknown(failure_reason(failure))

    def market_today_unknown(self, reason):
        """The server did not say what day it is: the crawl stops rather than take the local
        clock's date, which may be far from the data's."""
        logger.error("Could not learn the market's latest complete trading day from %s (%s). The crawl does "
                     "not fall back to this machine's clock: stopping. Run it again, or give the last day of "
                     "prices with -s PRICES_END=YYYY-MM-DD.", ENDPOINTS["market_status"].path, reason)
        self.crawler.stats.set_value("market/today_unknown", reason)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=MARKET_TODAY_UNKNOWN))
        self.market_today_learned(None)

    def market_today_learned(self, today):
        """Hands the market's today, or None when it is unknown, to ``start``."""
        if not self._market_today_learned.called:
            self._market_today_learned.callback(today)

    # --- requests and pages -------------------------------------------------------------------

    def api_request(self, endpoint, params=None, path_args=None, **kwargs):
        """A request for ``endpoint`` on the configured host. The key is added by
        ``AuthMiddleware`` when the request is sent, so it never sits in a queue or JOBDIR."""
        path = endpoint.url_path(**(path_args or {}))
        query = f"?{urlencode(params)}" if params else ""
        meta = {**kwargs.pop("meta", {}), "polygon_endpoint": endpoint.name}
        return scrapy.Request(self._base_url() + path + query, meta=meta, **kwargs)

    def page_size(self, endpoint):
        """``POLYGON_PAGE_SIZE`` rows, within the endpoint's maximum."""
        requested = self.settings.getint("POLYGON_PAGE_SIZE")
        return min(requested, endpoint.page_limit) if requested > 0 else endpoint.page_limit

    def next_page_request(self, response, next_url):
        """The request for the page at the API's ``next_url``, or None on the last page (no URL).

        ``next_url`` is rebuilt on our configured host from its path and query, as the official
        client does, so a listing never leaves the server the user chose.
        """
        if not next_url:
            return None
        parts = urlsplit(next_url)
        cursor = parse_qs(parts.query).get("cursor", [parts.query])[0]
        seen = response.meta.get("polygon_cursors", ())
        if cursor in seen:
            raise RepeatedCursorError(f"next_url repeats cursor {cursor[:24]}...")
        url = self._base_url() + parts.path + (f"?{parts.query}" if parts.query else "")
        meta = {k: v for k, v in response.meta.items() if k.startswith("polygon_")}
        return response.request.replace(url=url, meta={**meta, "polygon_cursors": (*seen, cursor)})

    def parse_read_page(self, response):
        """Callback of a listing whose requests name a ``PageReader``: the page's batches, then
        the next page's request or, on the last page, the listing's units complete."""
        page = self.read_page(response)
        yield from page.batches
        yield from self.listing_continues(response, page.next_url)

    def read_page(self, response):
        """The ``ReadPage`` of a response whose request names a ``PageReader``: read in a thread
        by the page reader middleware, or here when no middleware did; the fields its
        rows had and the schema does not know are counted."""
        page = response.meta.pop(PAGE_READ, None) or read_page(response.meta[PAGE_READER], response.body)
        if page is None:
            raise ValueError("the page is not JSON")
        self.count_unknown_fields(page.unknown_fields)
        return page

    def record_batches(self, parsed_rows, datasets=None):
        """One ``RecordBatch`` per dataset for a page's parsed rows (only of
        ``datasets`` when given), counting the fields the schema does not know."""
        records, unknown_fields = group_rows(parsed_rows, datasets)
        self.count_unknown_fields(unknown_fields)
        for dataset, rows in records.items():
            yield RecordBatch(dataset, rows)

    def count_unknown_fields(self, unknown_fields):
        for (dataset, name), count in unknown_fields.items():
            self.crawler.stats.inc_value(f"parser/unknown_field/{dataset}/{name}", count)

    def ticker_request(self, endpoint, dataset, ticker, callback, params=None, page_reader=None, **path_args):
        """The request of a per-ticker endpoint; a 404 there means the ticker has no data.
        A ``page_reader`` goes with ``callback=self.parse_read_page``."""
        meta = {"polygon_units": ((dataset, ticker),), "polygon_404_is_empty": True}
        if page_reader is not None:
            meta[PAGE_READER] = page_reader
        return self.api_request(
            endpoint, params, path_args={"ticker": ticker, **path_args}, callback=callback,
            errback=self.listing_failed,
            dont_filter=self.must_refetch(dataset, [ticker]),
            meta=meta,
        )

    def parse_ticker_answer(self, response, to_rows):
        """A per-ticker endpoint's one page (neither listed nor paged): the rows
        ``to_rows(results, ticker)`` makes of it, then its unit complete."""
        ticker = response.meta["polygon_units"][0][1]
        yield from self.record_batches(to_rows(page_json(response).get("results"), ticker))
        yield from self.units_complete(response.meta)

    def listing_continues(self, response, next_url):
        """After a page: the request for ``next_url``, or, on the last page, the listing's units
        complete."""
        next_page = self.next_page_request(response, next_url)
        if next_page:
            yield next_page
        else:
            yield from self.units_complete(response.meta)

    def units_complete(self, meta):
        """One ``UnitsComplete`` for every (dataset, ticker) unit the finished listing fed."""
        yield UnitsComplete(tuple(meta["polygon_units"]))

    def units_failed(self, meta, reason):
        for dataset, ticker in meta.get("polygon_units", ()):
            yield UnitFailed(dataset, ticker, reason)

    def listing_failed(self, failure):
        """Errback of every listing: a 404 on a per-ticker endpoint is "no data" and completes
        its units; a plan without the endpoint goes to the family's fallback; anything else
        fails the units with its reason."""
        request = failure.request
        response = getattr(failure.value, "response", None)
        if response is not None and response.status == 404 and request.meta.get("polygon_404_is_empty"):
            self.crawler.stats.inc_value("units/not_found_is_empty")
            yield from self.units_complete(request.meta)
            return
        if failure.check(PlanNotEntitled):
            yield from self.plan_not_entitled(request)
            return
        yield from self.units_failed(request.meta, failure_reason(failure))

    def plan_not_entitled(self, request):
        """Requests that replace ``request`` when the plan lacks its endpoint; by default the
        units fail, and the dataset is unavailable for this plan."""
        yield from self.units_failed(request.meta, "not entitled: plan lacks this endpoint")

    def _base_url(self):
        return self.settings["POLYGON_BASE_URL"].rstrip("/")
