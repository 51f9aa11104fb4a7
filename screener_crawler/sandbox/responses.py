"""Renders every Polygon endpoint the crawler uses from a ``SyntheticMarket``, in the vendor's shapes.

``PolygonApi.handle(path, query, base_url)`` returns ``(http_status, json_object)``; auth, rate
limits and faults belong to the server. List endpoints page with a stateless cursor: URL-safe
base64 of the original filters plus the offset of the next page.
"""

import base64
import json
import threading
import zlib
import random
from collections import OrderedDict, namedtuple
from datetime import date
from threading import Lock
from urllib.parse import parse_qsl, urlencode

from ..polygon.endpoints import ENDPOINTS, PLANS_WITH_FALLBACKS, STATEMENT_ENDPOINTS_V1
from ..polygon.fields import V1_LINE_ITEMS, V1_TIMEFRAMES, VX_TIMEFRAME_TO_V1
from .market import SECTORS, _mix, aggregate, vx_blocks, utc_stamp
from .market_time import eastern_time_text, parse_day

PLANS_OF_BASIC_KEYS = frozenset(endpoint.plan for endpoint in ENDPOINTS.values()) - PLANS_WITH_FALLBACKS
"""A basic key holds every plan but those whose endpoints have an older fallback, so a crawl with
it takes every fallback and still downloads every dataset."""

_VX_ORDERS = {
    "assets": 100, "current_assets": 200, "noncurrent_assets": 300, "fixed_assets": 400,
    "liabilities": 600, "current_liabilities": 700, "noncurrent_liabilities": 800, "equity": 1400,
    "equity_attributable_to_noncontrolling_interest": 1500, "equity_attributable_to_parent": 1600,
    "liabilities_and_equity": 1900, "revenues": 100, "benefits_costs_expenses": 200,
    "cost_of_revenue": 300, "costs_and_expenses": 600, "gross_profit": 800, "operating_expenses": 1000,
    "operating_income_loss": 1100, "income_loss_from_continuing_operations_after_tax": 1400,
    "income_loss_from_continuing_operations_before_tax": 1500, "income_tax_expense_benefit": 2200,
    "interest_expense_operating": 2700, "net_income_loss": 3200,
    "net_income_loss_attributable_to_noncontrolling_interest": 3300,
    "net_income_loss_attributable_to_parent": 3500,
    "net_income_loss_available_to_common_stockholders_basic": 3700,
    "preferred_stock_dividends_and_other_adjustments": 3900, "basic_earnings_per_share": 4200,
    "diluted_earnings_per_share": 4300, "basic_average_shares": 4400, "diluted_average_shares": 4500,
    "comprehensive_income_loss": 100, "comprehensive_income_loss_attributable_to_noncontrolling_interest": 200,
    "comprehensive_income_loss_attributable_to_parent": 300, "other_comprehensive_income_loss": 400,
    "other_comprehensive_income_loss_attributable_to_parent": 600,
    "net_cash_flow_from_operating_activities": 100, "net_cash_flow_from_operating_activities_continuing": 200,
    "net_cash_flow_from_investing_activities": 400, "net_cash_flow_from_investing_activities_continuing": 500,
    "net_cash_flow_from_financing_activities": 700, "net_cash_flow_from_financing_activities_continuing": 800,
    "exchange_gains_losses": 1000, "net_cash_flow": 1100, "net_cash_flow_continuing": 1200,
}
_VX_UNITS = {"basic_earnings_per_share": "USD / shares", "diluted_earnings_per_share": "USD / shares",
             "basic_average_shares": "shares", "diluted_average_shares": "shares"}
_LABEL_WORDS = (("Income Loss", "Income/Loss"), ("Gains Losses", "Gains/Losses"),
                ("Expense Benefit", "Expense/Benefit"), ("Earnings Loss", "Earnings/Loss"),
                (" Continuing", ", Continuing"), (" Discontinued", ", Discontinued"),
                ("Stockholders Basic", "Stockholders, Basic"), ("Costs Expenses", "Costs and Expenses"))


def _vx_label(concept):
    label = concept.replace("_", " ").title()
    for old, new in _LABEL_WORDS:
        label = label.replace(old, new)
    return label


_VX_LAYOUT = [(block, ds, concept, col, _vx_label(concept), _VX_ORDERS.get(concept, 100 * (i + 1)),
               _VX_UNITS.get(concept, "USD"))
              for i, (block, ds, concept, col) in enumerate(vx_blocks())]

_VX_BLOCK_LAYOUT = []
for _block, _ds, _concept, _col, _label, _order, _unit in _VX_LAYOUT:
    if not _VX_BLOCK_LAYOUT or _VX_BLOCK_LAYOUT[-1][0] != _block:
        _VX_BLOCK_LAYOUT.append((_block, []))
    _VX_BLOCK_LAYOUT[-1][1].append((_ds, _col, json.dumps(_concept) + ":" + json.dumps(
        {"label": _label, "order": _order, "unit": _unit, "value": 0}, separators=(",", ":"))[:-2]))
_HOLE = "\x00financials\x00"
_HOLE_JSON = json.dumps(_HOLE)

_RANGE_OPS = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
              "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}

Ref = namedtuple("Ref", "ticker timeframe period repeat")

FILINGS_HOST = "https://api.massive.com"
"""The host vX filings name their SEC filing URLs with, as the recorded answers do: data, not
links the crawler follows, the same whatever port the sandbox listens on."""


class ApiError(Exception):
    """An error answer: HTTP status and the vendor's JSON body."""

    def __init__(self, status, body):
        super().__init__(status)
        self.status, self.body = status, body


_REQUEST_IDS = random.Random()


def request_id():
    """32 hex digits, as the API's ``request_id``."""
    return "%032x" % _REQUEST_IDS.getrandbits(128)


def bad_request(message):
    return ApiError(400, {"status": "ERROR", "request_id": request_id(), "error": message})


def not_found(message="Ticker not found."):
    return ApiError(404, {"status": "NOT_FOUND", "request_id": request_id(), "message": message})


def encode_cursor(params, offset):
    raw = urlencode(sorted(params.items()) + [("offset", str(offset))])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        params = dict(parse_qsl(raw, keep_blank_values=True))
        offset = int(params.pop("offset"))
    except Exception:
        raise bad_request("Invalid cursor.")
    return params, offset


def _int(text, name):
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"Invalid value for '{name}': {text!r} is not an integer.")


def _day(text, name):
    try:
        return parse_day(text)
    except ValueError:
        raise bad_request(f"Invalid value for '{name}': {text!r} is not a valid date (YYYY-MM-DD).")


def _float(text, name):
    try:
        return float(text)
    except ValueError:
        raise bad_request(f"Invalid value for '{name}': {text!r} is not a number.")


_PARSERS = {"date": _day, "int": _int, "str": lambda t, n: t, "float": _float}


def build_filters(params, fields):
    """Predicates from ``field``, ``field.gt|gte|lt|lte`` and ``field.any_of`` params.

    ``fields`` maps a filter name to ``(getter, kind)``; unknown filter names are ignored like
    the vendor does, malformed values are a 400.
    """
    preds = []
    for key, text in params.items():
        name, _, op = key.partition(".")
        if name not in fields:
            continue
        get, kind = fields[name]
        parse = _PARSERS[kind]
        if op == "":
            value = parse(text, key)
            preds.append(lambda item, g=get, v=value: _matches(g(item), v))
        elif op == "any_of":
            values = frozenset(parse(v, key) for v in text.split(",") if v)
            preds.append(lambda item, g=get, vs=values: _matches_any(g(item), vs))
        elif op in _RANGE_OPS:
            value, cmp = parse(text, key), _RANGE_OPS[op]
            preds.append(lambda item, g=get, v=value, c=cmp: (x := g(item)) is not None and c(x, v))
        else:
            raise bad_request(f"Unsupported filter operator '{op}' on '{name}'.")
    return preds


def _matches(actual, wanted):
    if isinstance(actual, (list, tuple)):
        return wanted in actual
    return actual == wanted


def _matches_any(actual, wanted):
    """``_matches`` for any of the set ``wanted``."""
    if isinstance(actual, (list, tuple)):
        return not wanted.isdisjoint(actual)
    return actual in wanted


def parse_limit(params, endpoint):
    """The page size a request asks for, within ``endpoint``'s declared maximum."""
    maximum = endpoint.page_limit
    if "limit" not in params:
        return endpoint.default_page_size
    limit = _int(params["limit"], "limit")
    if limit < 1 or limit > maximum:
        raise bad_request(f"Limit must be between 1 and {maximum}.")
    return limit


def sort_spec_v1(params, fields, default):
    """``[(field, descending)]`` from a v1 comma list ``field.asc|desc``."""
    text = params.get("sort", default)
    out = []
    for part in text.split(","):
        name, _, direction = part.strip().rpartition(".")
        if not name:
            name, direction = direction, "asc"
        if name not in fields or direction not in ("asc", "desc"):
            raise bad_request(f"Invalid sort field '{part}'.")
        out.append((name, direction == "desc"))
    return out


def sort_spec_legacy(params, fields, default_sort, default_order):
    name, order = params.get("sort", default_sort), params.get("order", default_order)
    if name not in fields:
        raise bad_request(f"Invalid sort field '{name}'.")
    if order not in ("asc", "desc"):
        raise bad_request(f"Invalid order '{order}'.")
    return [(name, order == "desc")]


def sort_items(items, spec, fields):
    if len(spec) == 1:
        get = fields[spec[0][0]][0]
        try:
            return sorted(items, key=get, reverse=spec[0][1]) if not any(
                isinstance(get(it), (list, tuple)) for it in items[:1]) else _sort_slow(items, spec, fields)
        except TypeError:
            pass
    return _sort_slow(items, spec, fields)


def _sort_slow(items, spec, fields):
    for name, desc in reversed(spec):
        get = fields[name][0]
        items.sort(key=lambda it, g=get: _sort_key(g(it)), reverse=desc)
    return items


def _sort_key(value):
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return (value is None, value if value is not None else 0)


class PolygonApi:
    """Routes a path to its renderer: a route is a declared endpoint (``polygon/endpoints.py``)
    and its paths are those of its ``path_pattern``; the sandbox serves no path of its own."""

    def __init__(self, market):
        self.market = market
        self._listing_cache = OrderedDict()
        self._lock = Lock()
        self._prefetched = {}
        self._stream_cursors = {}
        handlers = {
            "tickers": self.tickers, "ticker_details": self.ticker_details,
            **{endpoint.name: self.v1_statements for endpoint in STATEMENT_ENDPOINTS_V1.values()},
            "financials_vx": self.vx_financials, "dividends_v1": self.v1_dividends,
            "dividends_v3": self.v3_dividends, "splits_v1": self.v1_splits, "splits_v3": self.v3_splits,
            "ticker_events": self.events, "related_companies": self.related,
            "daily_bars": self.aggs, "grouped_daily": self.grouped, "market_status": self.market_status,
        }
        self.routes = [(ENDPOINTS[name], handler) for name, handler in handlers.items()]
        """(declared endpoint, its renderer): each path is matched by its endpoint's ``path_pattern``."""

    def route(self, path):
        """``(endpoint, handler, path arguments)`` of the route ``path`` takes, or None."""
        for endpoint, handler in self.routes:
            match = endpoint.path_pattern.match(path)
            if match:
                return endpoint, handler, match.groupdict()
        return None

    def basic_key_may_call(self, path):
        """Whether a basic key's plans include ``path``'s endpoint (an unknown path answers 404)."""
        route = self.route(path)
        return route is None or route[0].plan in PLANS_OF_BASIC_KEYS

    def handle(self, path, params, base_url):
        """``(status, body)`` for a GET of ``path`` with query ``params`` (dict, auth removed)."""
        route = self.route(path)
        if route:
            endpoint, handler, path_arguments = route
            try:
                cursor = params.get("cursor")
                offset = 0
                if cursor:
                    params, offset = decode_cursor(cursor)
                return 200, handler(endpoint=endpoint, path=path, params=params, offset=offset,
                                    base_url=base_url, **path_arguments)
            except ApiError as err:
                return err.status, err.body
        return 404, {"status": "NOT_FOUND", "request_id": request_id(), "message": "Not found."}

    # --- paging ---------------------------------------------------------------------------

    def _page(self, items, offset, limit, path, params, base_url):
        page = items[offset: offset + limit]
        next_url = None
        if offset + limit < len(items):
            next_url = f"{base_url}{path}?cursor={encode_cursor(params, offset + limit)}"
        return page, next_url

    def _cached_listing(self, key, build):
        """Sorted index of a market-wide listing, kept for the few most recent queries."""
        with self._lock:
            if key in self._listing_cache:
                self._listing_cache.move_to_end(key)
                return self._listing_cache[key]
        items = build()
        with self._lock:
            self._listing_cache[key] = items
            while len(self._listing_cache) > 6:
                self._listing_cache.popitem(last=False)
        return items

    def _known(self, ticker):
        if ticker not in self.market.index:
            raise not_found()
        return self.market.company(ticker)

    def _ticker_scope(self, params, *names):
        """Tickers named by equality / any_of filters, or every ticker."""
        for name in names:
            if name in params:
                return [t for t in [params[name]] if t in self.market.index]
            if name + ".any_of" in params:
                return [t for t in params[name + ".any_of"].split(",") if t in self.market.index]
        return self.market.tickers

    # --- universe -------------------------------------------------------------------------

    _TICKER_FIELDS = {
        "ticker": (lambda c: c.ticker, "str"), "name": (lambda c: c.name, "str"),
        "cik": (lambda c: c.cik if c.has_cik else None, "str"),
        "primary_exchange": (lambda c: c.exchange, "str"),
        "composite_figi": (lambda c: c.composite_figi, "str"),
        "share_class_figi": (lambda c: c.share_class_figi, "str"),
        "list_date": (lambda c: c.list_date, "date"),
        "delisted_utc": (lambda c: c.delisted, "date"),
    }

    def _ticker_record(self, c):
        rec = {"ticker": c.ticker, "name": c.name, "market": "stocks", "locale": "us",
               "primary_exchange": c.exchange, "type": "CS", "active": c.active, "currency_name": "usd"}
        if c.has_cik:
            rec["cik"] = c.cik
        rec["composite_figi"] = c.composite_figi
        rec["share_class_figi"] = c.share_class_figi
        if c.delisted:
            rec["delisted_utc"] = utc_stamp(c.delisted)
            rec["last_updated_utc"] = utc_stamp(c.last_updated or c.delisted)
        else:
            rec["last_updated_utc"] = utc_stamp(self.market.as_of)
        return rec

    def tickers(self, endpoint, path, params, offset, base_url):
        limit = parse_limit(params, endpoint)
        spec = sort_spec_legacy(params, self._TICKER_FIELDS, "ticker", "asc")
        active = params.get("active", "true").lower()
        if active not in ("true", "false"):
            raise bad_request("Invalid value for 'active'.")
        key = ("tickers", tuple(sorted(params.items())))

        def build():
            if params.get("type", "CS") != "CS" or params.get("market", "stocks") != "stocks" \
                    or params.get("locale", "us") != "us":
                return []
            m = self.market
            items = [m.company(t) for t in m.active_tickers] if active == "true" else m.delisted_listings()
            preds = build_filters(params, {k: v for k, v in self._TICKER_FIELDS.items()
                                           if k in ("ticker", "cik", "primary_exchange")})
            items = [c for c in items if all(p(c) for p in preds)]
            return sort_items(items, spec, self._TICKER_FIELDS)

        items = self._cached_listing(key, build)
        page, next_url = self._page(items, offset, limit, path, params, base_url)
        body = {"results": [self._ticker_record(c) for c in page], "status": "OK",
                "request_id": request_id(), "count": len(page)}
        if next_url:
            body["next_url"] = next_url
        return body

    def ticker_details(self, endpoint, path, params, offset, base_url, ticker):
        c = self._known(ticker)
        m = self.market
        day = _day(params["date"], "date") if "date" in params else m.as_of
        rec = self._ticker_record(c)
        shares = m.shares_outstanding(ticker, day)
        close = m.close_on_or_before(ticker, day)
        if close is not None:
            rec["market_cap"] = round(close * shares, 2)
        rec["phone_number"] = f"({200 + c.hash % 700}) {c.hash % 900 + 100}-{c.hash % 9000 + 1000}"
        rec["address"] = {"address1": f"{c.hash % 9000 + 100} MAIN STREET", "city": "WILMINGTON",
                          "state": "DE", "postal_code": f"{19801 + c.hash % 50}"}
        rec["description"] = f"{c.name} is a synthetic company in the {SECTORS[c.sector][1].lower()} industry."
        rec["sic_code"], rec["sic_description"] = SECTORS[c.sector][0], SECTORS[c.sector][1]
        root, _, suffix = ticker.partition(".")
        rec["ticker_root"] = root
        if suffix:
            rec["ticker_suffix"] = suffix
        rec["homepage_url"] = c.homepage
        rec["total_employees"] = c.employees
        rec["list_date"] = c.list_date.isoformat()
        rec["branding"] = {"logo_url": f"{base_url}/v1/reference/company-branding/{root.lower()}/images/logo.svg",
                           "icon_url": f"{base_url}/v1/reference/company-branding/{root.lower()}/images/icon.png"}
        rec["share_class_shares_outstanding"] = shares
        rec["weighted_shares_outstanding"] = shares
        rec["round_lot"] = 100
        return {"results": rec, "status": "OK", "request_id": request_id()}

    # --- fundamentals ---------------------------------------------------------------------

    _STATEMENT_FIELDS = {
        "tickers": (lambda r: (r.ticker,), "str"),
        "cik": (lambda r: r.period.accession[:10], "str"),
        "period_end": (lambda r: r.period.end, "date"),
        "filing_date": (lambda r: r.period.filing_date, "date"),
        "fiscal_year": (lambda r: r.period.fiscal_year, "int"),
        "fiscal_quarter": (lambda r: r.period.fiscal_quarter if r.timeframe != "annual" else None, "int"),
        "timeframe": (lambda r: VX_TIMEFRAME_TO_V1[r.timeframe], "str"),
    }

    def _statement_refs(self, tickers, timeframes, repeat_tag):
        m = self.market
        out = []
        append = out.append
        salts = {tf: zlib.crc32(repr((repeat_tag, tf)).encode()) << 12 for tf in ("quarterly", "annual", "ttm")}
        quarterly, annual, ttm = (tf in timeframes for tf in ("quarterly", "annual", "ttm"))
        sq, sa, st = salts["quarterly"], salts["annual"], salts["ttm"]
        for t in tickers:
            periods = m.periods(t)
            if not periods:
                continue
            h = m.company(t).hash
            for p in periods:
                q = p.q
                if quarterly:
                    append(Ref(t, "quarterly", p, False))
                    if _mix(h ^ (sq + q)) % 100 == 0:
                        append(Ref(t, "quarterly", p, True))
                if q >= 3:
                    if annual and p.fiscal_quarter == 4 and periods[q - 3].fiscal_quarter == 1:
                        append(Ref(t, "annual", p, False))
                        if _mix(h ^ (sa + q)) % 100 == 0:
                            append(Ref(t, "annual", p, True))
                    if ttm:
                        append(Ref(t, "ttm", p, False))
                        if _mix(h ^ (st + q)) % 100 == 0:
                            append(Ref(t, "ttm", p, True))
        return out

    def v1_statements(self, endpoint, path, params, offset, base_url):
        dataset, = endpoint.datasets
        limit = parse_limit(params, endpoint)
        spec = sort_spec_v1(params, self._STATEMENT_FIELDS, "period_end.asc")
        timeframes = {tf for tf, v1 in VX_TIMEFRAME_TO_V1.items() if v1 in V1_TIMEFRAMES[dataset]}
        preds = build_filters(params, self._STATEMENT_FIELDS)
        key = (dataset, tuple(sorted(params.items())))
        scope = self._ticker_scope(params, "tickers")

        def build():
            refs = self._statement_refs(scope, timeframes, dataset)
            if preds:
                refs = [r for r in refs if all(p(r) for p in preds)]
            return sort_items(refs, spec, self._STATEMENT_FIELDS)

        items = self._cached_listing(key, build)
        page, next_url = self._page(items, offset, limit, path, params, base_url)
        with self._lock:
            pending = self._prefetched.pop((key, offset, limit), None)
        results = None
        if pending is not None:
            pending[0].wait()
            results = pending[1]
        streaming = len(scope) > 50
        if results is None:
            results = self._v1_rows(dataset, page, key if streaming else None)
        if next_url and limit >= 10000:
            pending = [threading.Event(), None]
            with self._lock:
                self._prefetched[(key, offset + limit, limit)] = pending
                while len(self._prefetched) > 2:
                    self._prefetched.pop(next(iter(self._prefetched)))
            threading.Thread(target=self._prefetch, daemon=True,
                             args=(pending, dataset, items[offset + limit: offset + 2 * limit],
                                   key if streaming else None)).start()
        elif streaming and not next_url:
            with self._lock:
                self._stream_cursors.pop(key, None)
        body = {"status": "OK", "request_id": request_id(), "results": RawList(results)}
        if next_url:
            body["next_url"] = next_url
        return body

    def _prefetch(self, pending, dataset, page, stream_key):
        """Render the next big page while the client digests this one (market-wide listings)."""
        try:
            pending[1] = self._v1_rows(dataset, page, stream_key)
        finally:
            pending[0].set()

    def _cursors(self, key, dataset):
        with self._lock:
            cursors = self._stream_cursors.get(key)
            if cursors is None:
                cursors = self._stream_cursors[key] = StreamCursors(self.market, dataset)
                while len(self._stream_cursors) > 3:
                    self._stream_cursors.pop(next(iter(self._stream_cursors)))
            return cursors

    def _v1_rows(self, dataset, page, stream_key=None):
        """JSON texts of v1 statement rows. A market-wide listing (``stream_key``) walks every ticker's
        quarters forward with one resumable generator per ticker instead of caching whole histories."""
        keys = _V1_KEYS[dataset]
        m = self.market
        results = []
        append = results.append
        if stream_key is not None:
            cursors = self._cursors(stream_key, dataset)
            lock = cursors.lock
            window = cursors.window
        else:
            lock = _NO_LOCK
            series = m.series

            def window(ticker, q):
                return series(ticker, dataset)[max(0, q - 3): q + 1]

            aggregates = m.aggregates

        last = None
        with lock:
            for ref in page:
                p = ref.period
                if last is not None and p is last.period and ref.timeframe == last.timeframe \
                        and ref.ticker == last.ticker:
                    append(results[-1])
                    continue
                last = ref
                if stream_key is None:
                    values = series(ref.ticker, dataset)[p.q] if ref.timeframe == "quarterly" else \
                        aggregates(ref.ticker, dataset)[p.q]
                else:
                    win = window(ref.ticker, p.q)
                    values = win[-1] if ref.timeframe == "quarterly" else \
                        aggregate(dataset, win, m.restatement(ref.ticker, p.q))
                if ref.timeframe == "annual":
                    head = _V1_HEAD_ANNUAL % (p.accession[:10], ref.ticker, p.end.isoformat(),
                                              p.filing_date.isoformat(), p.fiscal_year)
                else:
                    head = _V1_HEAD % (p.accession[:10], ref.ticker, p.end.isoformat(), p.filing_date.isoformat(),
                                       p.fiscal_year, p.fiscal_quarter, VX_TIMEFRAME_TO_V1[ref.timeframe])
                append(head + "".join([k + repr(values[c]) for c, k in keys if c in values]) + "}")
        return results

    _VX_FIELDS = {
        "ticker": (lambda r: r.ticker, "str"),
        "cik": (lambda r: r.period.accession[:10], "str"),
        "filing_date": (lambda r: r.period.filing_date, "date"),
        "period_of_report_date": (lambda r: r.period.end, "date"),
        "timeframe": (lambda r: r.timeframe, "str"),
    }

    def vx_financials(self, endpoint, path, params, offset, base_url):
        limit = parse_limit(params, endpoint)
        spec = sort_spec_legacy(params, {k: self._VX_FIELDS[k] for k in ("filing_date", "period_of_report_date")},
                                "period_of_report_date", "asc")
        if params.get("timeframe", "quarterly") not in ("quarterly", "annual", "ttm"):
            raise bad_request("Invalid value for 'timeframe'.")
        preds = build_filters(params, self._VX_FIELDS)
        key = ("vx", tuple(sorted(params.items())))
        m = self.market

        def build():
            refs = [r for r in self._statement_refs(self._ticker_scope(params, "ticker"),
                                                    ("quarterly", "annual", "ttm"), "vx")
                    if all(p(r) for p in preds)]
            refs = [r for r in refs if r.timeframe != "quarterly" or r.period.fiscal_quarter != 4
                    or m.company(r.ticker).vx_q4]
            return sort_items(refs, spec, self._VX_FIELDS)

        items = self._cached_listing(key, build)
        page, next_url = self._page(items, offset, limit, path, params, base_url)
        results = RawList([self._vx_record(ref, base_url) for ref in page])
        body = {"results": results, "status": "OK", "request_id": request_id(), "count": len(results)}
        if next_url:
            body["next_url"] = next_url
        return body

    def _vx_record(self, ref, base_url):
        m = self.market
        c = m.company(ref.ticker)
        st = m.statement(ref.ticker, ref.timeframe, ref.period.q)
        p = st.period
        parts = []
        for block, points in _VX_BLOCK_LAYOUT:
            fragments = [head + repr(values[col]) + "}" for ds, col, head in points
                         if col in (values := st.values[ds])]
            if fragments:
                parts.append('"%s":{%s}' % (block, ",".join(fragments)))
        if ref.timeframe == "ttm":
            fiscal_period = "TTM"
        elif ref.timeframe == "annual":
            fiscal_period = "FY"
        else:
            fiscal_period = f"Q{p.fiscal_quarter}"
        filing_url = f"{FILINGS_HOST}/v1/reference/sec/filings/{p.accession}"
        rec = {
            "cik": c.cik, "company_name": c.name, "start_date": st.start.isoformat(),
            "end_date": p.end.isoformat(), "filing_date": p.filing_date.isoformat(),
            "acceptance_datetime": p.accepted, "fiscal_period": fiscal_period,
            "fiscal_year": str(p.fiscal_year), "financials": _HOLE,
            "source_filing_url": filing_url,
            "source_filing_file_url": f"{filing_url}/files/{ref.ticker.lower().replace('.', '')}-{p.end:%Y%m%d}_htm.xml",
            "tickers": [ref.ticker], "sic": SECTORS[c.sector][0],
        }
        if p.filing_date >= date(2012, 1, 1):
            rec["timeframe"] = ref.timeframe
        return json.dumps(rec, separators=(",", ":")).replace(_HOLE_JSON, "{" + ",".join(parts) + "}", 1)

    # --- dividends and splits -------------------------------------------------------------

    _DIVIDEND_FIELDS = {
        "ticker": (lambda d: d.ticker, "str"),
        "ex_dividend_date": (lambda d: d.ex_dividend_date, "date"),
        "record_date": (lambda d: d.record_date, "date"),
        "declaration_date": (lambda d: d.declaration_date, "date"),
        "pay_date": (lambda d: d.pay_date, "date"),
        "cash_amount": (lambda d: d.cash_amount, "float"),
        "frequency": (lambda d: d.frequency, "int"),
        "distribution_type": (lambda d: d.distribution_type, "str"),
        "dividend_type": (lambda d: "SC" if d.distribution_type == "special" else "CD", "str"),
    }
    _SPLIT_FIELDS = {
        "ticker": (lambda s: s.ticker, "str"),
        "execution_date": (lambda s: s.execution_date, "date"),
        "adjustment_type": (lambda s: "reverse_split" if s.split_from > s.split_to else "forward_split", "str"),
        "reverse_split": (lambda s: "true" if s.split_from > s.split_to else "false", "str"),
    }

    def _corporate(self, kind, source, fields, endpoint, sort, path, params, offset, base_url):
        limit = parse_limit(params, endpoint)
        key = (kind, endpoint.name, tuple(sorted(params.items())))
        preds = build_filters(params, fields)

        def build():
            items = []
            for t in self._ticker_scope(params, "ticker"):
                for rec in source(t):
                    if all(p(rec) for p in preds):
                        items.append(rec)
                        if self.market.repeated(t, kind, rec.id):
                            items.append(rec)
            return sort_items(items, sort, fields)

        items = self._cached_listing(key, build)
        return self._page(items, offset, limit, path, params, base_url)

    def _envelope(self, results, next_url):
        body = {"results": results, "status": "OK", "request_id": request_id()}
        if next_url:
            body["next_url"] = next_url
        return body

    def v1_dividends(self, endpoint, path, params, offset, base_url):
        sort = sort_spec_v1(params, self._DIVIDEND_FIELDS, "ticker.asc,ex_dividend_date.asc")
        page, next_url = self._corporate("dividend", self.market.dividends, self._DIVIDEND_FIELDS,
                                         endpoint, sort, path, params, offset, base_url)
        return self._envelope([{
            "cash_amount": d.cash_amount, "currency": "USD", "declaration_date": d.declaration_date.isoformat(),
            "distribution_type": d.distribution_type, "ex_dividend_date": d.ex_dividend_date.isoformat(),
            "frequency": d.frequency, "historical_adjustment_factor": d.historical_adjustment_factor,
            "id": d.id, "pay_date": d.pay_date.isoformat(), "record_date": d.record_date.isoformat(),
            "split_adjusted_cash_amount": d.split_adjusted_cash_amount, "ticker": d.ticker,
        } for d in page], next_url)

    def v3_dividends(self, endpoint, path, params, offset, base_url):
        sort = sort_spec_legacy(params, self._DIVIDEND_FIELDS, "ex_dividend_date", "desc")
        page, next_url = self._corporate("dividend", self.market.dividends, self._DIVIDEND_FIELDS,
                                         endpoint, sort, path, params, offset, base_url)
        return self._envelope([{
            "cash_amount": d.cash_amount, "currency": "USD", "declaration_date": d.declaration_date.isoformat(),
            "dividend_type": "SC" if d.distribution_type == "special" else "CD",
            "ex_dividend_date": d.ex_dividend_date.isoformat(), "frequency": d.frequency, "id": d.id,
            "pay_date": d.pay_date.isoformat(), "record_date": d.record_date.isoformat(), "ticker": d.ticker,
        } for d in page], next_url)

    def v1_splits(self, endpoint, path, params, offset, base_url):
        sort = sort_spec_v1(params, self._SPLIT_FIELDS, "execution_date.desc")
        page, next_url = self._corporate("split", self.market.splits, self._SPLIT_FIELDS,
                                         endpoint, sort, path, params, offset, base_url)
        return self._envelope([{
            "adjustment_type": "reverse_split" if s.split_from > s.split_to else "forward_split",
            "execution_date": s.execution_date.isoformat(),
            "historical_adjustment_factor": s.historical_adjustment_factor, "id": s.id,
            "split_from": s.split_from, "split_to": s.split_to, "ticker": s.ticker,
        } for s in page], next_url)

    def v3_splits(self, endpoint, path, params, offset, base_url):
        sort = sort_spec_legacy(params, self._SPLIT_FIELDS, "execution_date", "desc")
        page, next_url = self._corporate("split", self.market.splits, self._SPLIT_FIELDS,
                                         endpoint, sort, path, params, offset, base_url)
        return self._envelope([{
            "execution_date": s.execution_date.isoformat(), "id": s.id,
            "split_from": s.split_from, "split_to": s.split_to, "ticker": s.ticker,
        } for s in page], next_url)

    # --- per-ticker reference -------------------------------------------------------------

    def events(self, endpoint, path, params, offset, base_url, ticker):
        c = self._known(ticker)
        events = [{"ticker_change": {"ticker": t}, "type": "ticker_change", "date": d.isoformat()}
                  for d, t in self.market.events(ticker)]
        return {"results": {"name": c.name, "composite_figi": c.composite_figi, "cik": c.cik, "events": events},
                "status": "OK", "request_id": request_id()}

    def related(self, endpoint, path, params, offset, base_url, ticker):
        self._known(ticker)
        return {"request_id": request_id(), "results": [{"ticker": t} for t in self.market.related(ticker)],
                "status": "OK", "stock_symbol": ticker}

    # --- prices ---------------------------------------------------------------------------

    def aggs(self, endpoint, path, params, offset, base_url, ticker, start, end):
        first, last = _day(start, "from"), _day(end, "to")
        limit = parse_limit(params, endpoint)
        adjusted = params.get("adjusted", "true").lower() != "false"
        order = params.get("sort", "asc")
        if order not in ("asc", "desc"):
            raise bad_request(f"Invalid sort '{order}'.")
        m = self.market
        results, next_url = [], None
        if ticker in m.index and first <= last:
            j0, j1 = m.bar_window(ticker, first, last)
            total = max(0, j1 - j0)
            if order == "asc":
                a = j0 + offset
                b = min(j1, a + limit)
            else:
                b = j1 - offset
                a = max(j0, b - limit)
            results = m.render_bars(ticker, a, b, adjusted, reverse=order == "desc") if a < b else []
            if offset + limit < total:
                next_url = f"{base_url}{path}?cursor={encode_cursor(params, offset + limit)}"
        body = {"ticker": ticker, "queryCount": len(results), "resultsCount": len(results), "adjusted": adjusted,
                "results": RawList(results), "status": "OK", "request_id": request_id(), "count": len(results)}
        if next_url:
            body["next_url"] = next_url
        return body

    def grouped(self, endpoint, path, params, offset, base_url, date):
        d = _day(date, "date")
        adjusted = params.get("adjusted", "true").lower() != "false"
        results = self.market.render_grouped(d, adjusted)
        return {"queryCount": len(results), "resultsCount": len(results), "adjusted": adjusted,
                "results": RawList(results), "status": "OK", "request_id": request_id(), "count": len(results)}

    # --- market status --------------------------------------------------------------------

    def market_status(self, endpoint, path, params, offset, base_url):
        """The market at the sandbox's "now", ``SERVER_CLOCK`` US/Eastern on the as-of day: the
        exchanges closed, after-hours over (the day's bars are final); crypto open, forex closed
        from Friday evening to Sunday evening. A bare object, as the vendor's."""
        day = self.market.as_of
        closed = "closed"
        return {"afterHours": False,
                "currencies": {"crypto": "open", "fx": closed if day.weekday() in (4, 5) else "open"},
                "earlyHours": False, "exchanges": {"nasdaq": closed, "nyse": closed, "otc": closed},
                "market": closed, "serverTime": eastern_time_text(day, *SERVER_CLOCK)}


SERVER_CLOCK = (20, 30)
"""(hour, minute), US/Eastern, of the sandbox's "now" on its as-of day: after the after-hours
session, so the as-of day's bars are final."""


class StreamCursors:
    """Per-ticker generators over a dataset's quarters, each holding its last four quarters, for
    listings that visit every ticker's quarters in ascending order (market-wide, by period)."""

    def __init__(self, market, dataset):
        self.market, self.dataset = market, dataset
        self.states = {}
        self.lock = Lock()

    def window(self, ticker, q):
        """The amounts of quarters ``max(0, q - 3) .. q``."""
        st = self.states.get(ticker)
        lo = max(0, q - 3)
        if st is None or lo < st[1] - len(st[2]):
            st = self.states[ticker] = [self.market.stream(ticker, self.dataset), 0, []]
        gen, nq, win = st
        while nq <= q:
            win.append(next(gen))
            nq += 1
            if len(win) > 4:
                del win[0]
        st[1] = nq
        end = len(win) - (nq - 1 - q)
        return win[end - (q - lo) - 1: end]


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NO_LOCK = _NoLock()
_V1_HEAD = '{"cik":"%s","tickers":["%s"],"period_end":"%s","filing_date":"%s","fiscal_year":%d,' \
    '"fiscal_quarter":%d,"timeframe":"%s"'
_V1_HEAD_ANNUAL = '{"cik":"%s","tickers":["%s"],"period_end":"%s","filing_date":"%s","fiscal_year":%d,' \
    '"timeframe":"annual"'
_V1_KEYS = {ds: [(col, ',"%s":' % col) for col in cols] for ds, cols in V1_LINE_ITEMS.items()}


class RawList(list):
    """A JSON array whose items are already-serialised JSON texts, spliced verbatim by ``to_json``."""


def to_json(body):
    """Compact JSON bytes of an answer body; ``RawList`` values (top level) are spliced in as is."""
    if isinstance(body, dict):
        raws = {k: v for k, v in body.items() if isinstance(v, RawList)}
        if raws:
            holes = {}
            patched = dict(body)
            for i, (k, v) in enumerate(raws.items()):
                token = f"\x00raw{i}\x00"
                patched[k] = token
                holes[json.dumps(token)] = "[" + ",".join(v) + "]"
            text = json.dumps(patched, separators=(",", ":"))
            for token, fragment in holes.items():
                text = text.replace(token, fragment, 1)
            return text.encode()
    return json.dumps(body, separators=(",", ":")).encode()


def plain(body):
    """``body`` with ``RawList`` values parsed back into JSON objects (for in-process callers)."""
    if isinstance(body, dict) and any(isinstance(v, RawList) for v in body.values()):
        return {k: [json.loads(x) for x in v] if isinstance(v, RawList) else v for k, v in body.items()}
    return body

