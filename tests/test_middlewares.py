"""HTTP concerns: the key goes only in a Bearer header, only to the API host, and never
stays on a request that may be queued, retried or written to JOBDIR."""

import json

import pytest
from scrapy.http import Request, TextResponse
from scrapy.utils.test import get_crawler

from screener_crawler.middlewares.auth import AuthMiddleware
from screener_crawler.middlewares.entitlement import PlanEntitlementMiddleware, PlanNotEntitled
from screener_crawler.polygon.endpoints import ENDPOINTS

BASE = "http://127.0.0.1:8700"
KEY = "test-key-0123456789"


def auth():
    return AuthMiddleware.from_crawler(get_crawler(settings_dict={"POLYGON_API_KEY": KEY, "POLYGON_BASE_URL": BASE}))


def test_key_is_sent_as_bearer_header_not_in_url():
    request = Request(f"{BASE}/stocks/financials/v1/balance-sheets?limit=1")
    auth().process_request(request)
    assert request.headers[b"Authorization"] == f"Bearer {KEY}".encode()
    assert KEY not in request.url


def test_key_is_not_sent_to_another_host():
    request = Request("http://127.0.0.2:8700/stocks/financials/v1/balance-sheets")
    auth().process_request(request)
    assert b"Authorization" not in request.headers


@pytest.mark.parametrize("outcome", ["response", "exception"])
def test_header_is_removed_once_the_request_comes_back(outcome):
    middleware = auth()
    request = Request(f"{BASE}/v3/reference/tickers")
    middleware.process_request(request)
    if outcome == "response":
        middleware.process_response(request, TextResponse(request.url, body=b"{}", request=request))
    else:
        middleware.process_exception(request, TimeoutError())
    assert b"Authorization" not in request.headers
    assert KEY.encode() not in repr(request.to_dict()).encode()


def not_authorized(request):
    body = {"status": "NOT_AUTHORIZED", "request_id": "x",
            "message": "You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"}
    return TextResponse(request.url, status=403, body=json.dumps(body).encode(), request=request)


def test_403_marks_the_plan_group_unavailable_without_touching_other_endpoints():
    crawler = get_crawler()
    crawler.stats.open_spider()
    middleware = PlanEntitlementMiddleware.from_crawler(crawler)
    first = Request(f"{BASE}/stocks/financials/v1/balance-sheets", meta={"polygon_endpoint": "balance_sheets_v1"})
    with pytest.raises(PlanNotEntitled):
        middleware.process_response(first, not_authorized(first))
    same_plan = Request(f"{BASE}/stocks/financials/v1/cash-flow-statements", meta={"polygon_endpoint": "cash_flow_v1"})
    with pytest.raises(PlanNotEntitled):
        middleware.process_request(same_plan)
    other = Request(f"{BASE}/vX/reference/financials", meta={"polygon_endpoint": "financials_vx"})
    assert middleware.process_request(other) is None
    assert crawler.stats.get_value("plan/skipped/financials_v1") == 1


@pytest.mark.parametrize("endpoint_name, said", [
    ("dividends_v1", "using the older endpoints for the rest of this run (/v3/reference/dividends instead)."),
    ("related_companies", "related_tickers cannot be downloaded in this run."),
])
def test_403_says_once_per_plan_what_the_declared_fallback_serves_instead(caplog, endpoint_name, said):
    crawler = get_crawler()
    crawler.stats.open_spider()
    middleware = PlanEntitlementMiddleware.from_crawler(crawler)
    endpoint = ENDPOINTS[endpoint_name]
    for _ in range(2):
        request = Request(f"{BASE}{endpoint.url_path(ticker='AAPL')}", meta={"polygon_endpoint": endpoint_name})
        with pytest.raises(PlanNotEntitled):
            middleware.process_response(request, not_authorized(request))
    warnings = [r.getMessage() for r in caplog.records if "does not include" in r.getMessage()]
    assert warnings == [f"Your Polygon plan does not include {endpoint.path} (403 NOT_AUTHORIZED); {said}"]
