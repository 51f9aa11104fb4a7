"""What every Polygon spider shares: arguments, request building and ``next_url`` paging.

Spiders stay thin: they say which endpoint to call for which tickers and how a page becomes
items. Auth, the rate cap, retries and plan entitlements are middlewares' business; storage is
the pipelines'.
"""

import re
from urllib.parse import urlencode, urlsplit, parse_qs

import scrapy

from screener_crawler.items import RECORD_ITEMS, UnitComplete, UnitFailed
from screener_crawler.middlewares.entitlement import PlanNotEntitled

TICKER_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,5}([.-][A-Z0-9]{1,3})?$")


class TickerArgumentError(ValueError):
    pass


def parse_tickers(argument):
    """``-a tickers=AAPL,MSFT`` as a list, in the user's order, without repeats."""
    if argument is None:
        return None
    tickers = [t.strip().upper() for t in str(argument).split(",") if t.strip()]
    if not tickers:
        raise TickerArgumentError("-a tickers= is empty; give symbols like -a tickers=AAPL,MSFT")
    bad = [t for t in tickers if not TICKER_PATTERN.match(t)]
    if bad:
        raise TickerArgumentError(
            f"not a ticker symbol: {', '.join(repr(t) for t in bad[:5])} "
            "(expected letters and digits with an optional class suffix, like BRK.B)"
        )
    return list(dict.fromkeys(tickers))


def batched(items, size):
    """``items`` in consecutive tuples of at most ``size`` (itertools.batched is Python 3.12+)."""
    for start in range(0, len(items), size):
        yield tuple(items[start:start + size])


class RepeatedCursorError(Exception):
    """The API sent a ``next_url`` whose cursor this listing has already followed."""


class PolygonSpider(scrapy.Spider):
    custom_settings = {}

    def __init__(self, tickers=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tickers = parse_tickers(tickers)

    def api_request(self, endpoint, params=None, path_args=None, **kwargs):
        """A request for ``endpoint`` on the configured host. The key is added by
        ``AuthMiddleware`` when the request is sent, so it never sits in a queue or JOBDIR."""
        path = endpoint.path.format(**(path_args or {}))
        query = f"?{urlencode(params)}" if params else ""
        meta = {**kwargs.pop("meta", {}), "polygon_endpoint": endpoint.name}
        return scrapy.Request(self._base_url() + path + query, meta=meta, **kwargs)

    def page_size(self, endpoint):
        """``POLYGON_PAGE_SIZE`` rows, within the endpoint's maximum."""
        requested = self.settings.getint("POLYGON_PAGE_SIZE")
        return min(requested, endpoint.page_limit) if requested > 0 else endpoint.page_limit

    def next_page_request(self, response, payload):
        """The request for the next page, or None on the last page.

        ``next_url`` is rebuilt on our configured host from its path and query, as the official
        client does, so a listing never leaves the server the user chose.
        """
        next_url = payload.get("next_url")
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

    def record_items(self, parsed_rows):
        """Items for parsed rows, counting fields the schema does not know."""
        for parsed in parsed_rows:
            for name in parsed.unknown_fields:
                self.crawler.stats.inc_value(f"parser/unknown_field/{parsed.dataset}/{name}")
            yield RECORD_ITEMS[parsed.dataset](parsed.row)

    def units_complete(self, meta):
        """``UnitComplete`` for every (dataset, ticker) unit the finished listing fed."""
        for dataset, ticker in meta["polygon_units"]:
            yield UnitComplete(dataset, ticker)

    def units_failed(self, meta, reason):
        for dataset, ticker in meta.get("polygon_units", ()):
            yield UnitFailed(dataset, ticker, reason)

    def listing_failed(self, failure):
        """Errback of every listing request: its units fail with the reason, unless the plan
        lacks the endpoint and the spider knows a fallback."""
        request = failure.request
        if failure.check(PlanNotEntitled):
            yield from self.plan_not_entitled(request)
            return
        yield from self.units_failed(request.meta, failure_reason(failure))

    def plan_not_entitled(self, request):
        """Requests that replace ``request`` when the plan lacks its endpoint; none by default."""
        yield from self.units_failed(request.meta, "not entitled: plan lacks this endpoint")

    def _base_url(self):
        return self.settings["POLYGON_BASE_URL"].rstrip("/")


def failure_reason(failure):
    """A short, key-free reason for the ledger: ``HTTP 503``, ``TimeoutError``..."""
    response = getattr(failure.value, "response", None)
    if response is not None:
        return f"HTTP {response.status}"
    return type(failure.value).__name__
