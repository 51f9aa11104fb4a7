"""The Polygon endpoints the crawler calls, declared once (DESIGN §1, API.md §5).

Spiders build their requests from these declarations, the spiders' fallbacks follow ``fallback``,
and the sandbox's router derives each route from ``path`` (``path_pattern``).

``plan`` groups endpoints that one subscription tier unlocks together: a 403 NOT_AUTHORIZED on
any of them means the whole group is unavailable for this key, and ``fallback`` names the older
endpoint that serves the same datasets.
"""

import re
import string
from dataclasses import dataclass
from functools import cached_property

TICKER_SYMBOL = r"[A-Z][A-Z0-9]{0,5}(?:[.-][A-Z0-9]{1,3})?"
"""A stock's symbol: letters and digits with an optional class suffix (``BRK.B``, ``BF-B``)."""

TICKER_PATTERN = re.compile(rf"^{TICKER_SYMBOL}$")
"""A whole string that is one ticker symbol."""

PATH_ARGUMENT_PATTERNS = {"ticker": TICKER_SYMBOL}
"""What a ``{name}`` placeholder of a path matches; any other placeholder is one path segment
(its value, a date, is checked by whoever serves the path)."""

PATH_SEGMENT = r"[^/]+"


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    """The URL path, with ``{ticker}``, ``{date}``, ``{start}``, ``{end}`` placeholders."""
    page_limit: int
    """The most rows a page may hold (``limit``); 0 for answers that are not paged."""
    datasets: tuple
    """The datasets its answers feed (none for the market status, which dates the crawl)."""
    plan: str
    fallback: str | None = None
    """The endpoint that serves the same datasets when the plan lacks this one."""
    default_page_size: int = 0
    """The rows of a page when the request gives no ``limit`` (the sandbox serves it)."""

    @cached_property
    def path_arguments(self) -> tuple[str, ...]:
        """The placeholders of ``path``, in order."""
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.path) if name)

    @cached_property
    def path_pattern(self) -> re.Pattern:
        """The paths of this endpoint: ``path`` with each placeholder a named group."""
        pattern = "".join(
            re.escape(literal) + (f"(?P<{name}>{PATH_ARGUMENT_PATTERNS.get(name, PATH_SEGMENT)})" if name else "")
            for literal, name, _, _ in string.Formatter().parse(self.path))
        return re.compile(f"^{pattern}$")

    def url_path(self, **path_arguments: str) -> str:
        """``path`` with its placeholders filled."""
        return self.path.format(**path_arguments)

    @property
    def fallback_endpoint(self) -> "Endpoint | None":
        return ENDPOINTS[self.fallback] if self.fallback else None


ENDPOINTS = {
    endpoint.name: endpoint
    for endpoint in (
        Endpoint("tickers", "/v3/reference/tickers", 1000, ("universe",), "reference", default_page_size=100),
        Endpoint("balance_sheets_v1", "/stocks/financials/v1/balance-sheets", 50000,
                 ("balance_sheets",), "financials_v1", fallback="financials_vx", default_page_size=100),
        Endpoint("income_statements_v1", "/stocks/financials/v1/income-statements", 50000,
                 ("income_statements",), "financials_v1", fallback="financials_vx", default_page_size=100),
        Endpoint("cash_flow_v1", "/stocks/financials/v1/cash-flow-statements", 50000,
                 ("cash_flow",), "financials_v1", fallback="financials_vx", default_page_size=100),
        Endpoint("financials_vx", "/vX/reference/financials", 100,
                 ("balance_sheets", "income_statements", "cash_flow"), "reference", default_page_size=10),
        Endpoint("dividends_v1", "/stocks/v1/dividends", 5000, ("dividends",), "stocks_v1",
                 fallback="dividends_v3", default_page_size=100),
        Endpoint("dividends_v3", "/v3/reference/dividends", 1000, ("dividends",), "reference",
                 default_page_size=10),
        Endpoint("splits_v1", "/stocks/v1/splits", 5000, ("splits",), "stocks_v1",
                 fallback="splits_v3", default_page_size=100),
        Endpoint("splits_v3", "/v3/reference/splits", 1000, ("splits",), "reference", default_page_size=10),
        Endpoint("ticker_details", "/v3/reference/tickers/{ticker}", 0, ("ticker_details",), "reference"),
        Endpoint("ticker_events", "/vX/reference/tickers/{ticker}/events", 0,
                 ("ticker_events",), "reference"),
        Endpoint("related_companies", "/v1/related-companies/{ticker}", 0,
                 ("related_tickers",), "reference"),
        Endpoint("daily_bars", "/v2/aggs/ticker/{ticker}/range/1/day/{start}/{end}", 50000,
                 ("daily_prices",), "stocks", default_page_size=5000),
        Endpoint("grouped_daily", "/v2/aggs/grouped/locale/us/market/stocks/{date}", 0,
                 ("daily_prices",), "stocks"),
        Endpoint("market_status", "/v1/marketstatus/now", 0, (), "reference"),
    )
}

STATEMENT_ENDPOINTS_V1 = {
    "balance_sheets": ENDPOINTS["balance_sheets_v1"],
    "income_statements": ENDPOINTS["income_statements_v1"],
    "cash_flow": ENDPOINTS["cash_flow_v1"],
}

PLANS_WITH_FALLBACKS = frozenset(endpoint.plan for endpoint in ENDPOINTS.values() if endpoint.fallback)
"""The plans whose endpoints have older ones to fall back to: a key may lack them and still
download every dataset."""


def fallback_of(endpoint_name: str | None) -> Endpoint | None:
    """The endpoint that replaces ``endpoint_name``'s when the plan lacks it, if any."""
    endpoint = ENDPOINTS.get(endpoint_name)
    return endpoint.fallback_endpoint if endpoint else None
