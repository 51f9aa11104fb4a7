"""The Polygon endpoints the crawler calls, declared once (DESIGN §1, API.md §5).

``plan`` groups endpoints that one subscription tier unlocks together: a 403 NOT_AUTHORIZED on
any of them means the whole group is unavailable for this key, and ``fallback`` names the older
endpoint that serves the same datasets.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    page_limit: int
    datasets: tuple
    plan: str
    fallback: str | None = None


ENDPOINTS = {
    endpoint.name: endpoint
    for endpoint in (
        Endpoint("tickers", "/v3/reference/tickers", 1000, ("universe",), "reference"),
        Endpoint("balance_sheets_v1", "/stocks/financials/v1/balance-sheets", 50000,
                 ("balance_sheets",), "financials_v1", fallback="financials_vx"),
        Endpoint("income_statements_v1", "/stocks/financials/v1/income-statements", 50000,
                 ("income_statements",), "financials_v1", fallback="financials_vx"),
        Endpoint("cash_flow_v1", "/stocks/financials/v1/cash-flow-statements", 50000,
                 ("cash_flow",), "financials_v1", fallback="financials_vx"),
        Endpoint("financials_vx", "/vX/reference/financials", 100,
                 ("balance_sheets", "income_statements", "cash_flow"), "reference"),
        Endpoint("dividends_v1", "/stocks/v1/dividends", 5000, ("dividends",), "stocks_v1",
                 fallback="dividends_v3"),
        Endpoint("dividends_v3", "/v3/reference/dividends", 1000, ("dividends",), "reference"),
        Endpoint("splits_v1", "/stocks/v1/splits", 5000, ("splits",), "stocks_v1",
                 fallback="splits_v3"),
        Endpoint("splits_v3", "/v3/reference/splits", 1000, ("splits",), "reference"),
        Endpoint("ticker_details", "/v3/reference/tickers/{ticker}", 0, ("ticker_details",), "reference"),
        Endpoint("ticker_events", "/vX/reference/tickers/{ticker}/events", 0,
                 ("ticker_events",), "reference"),
        Endpoint("related_companies", "/v1/related-companies/{ticker}", 0,
                 ("related_tickers",), "reference"),
        Endpoint("daily_bars", "/v2/aggs/ticker/{ticker}/range/1/day/{start}/{end}", 50000,
                 ("daily_prices",), "stocks"),
        Endpoint("grouped_daily", "/v2/aggs/grouped/locale/us/market/stocks/{date}", 0,
                 ("daily_prices",), "stocks"),
    )
}

STATEMENT_ENDPOINTS_V1 = {
    "balance_sheets": ENDPOINTS["balance_sheets_v1"],
    "income_statements": ENDPOINTS["income_statements_v1"],
    "cash_flow": ENDPOINTS["cash_flow_v1"],
}
