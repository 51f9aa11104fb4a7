"""The endpoint declarations (polygon/endpoints.py) against the sandbox's router and the spiders'
fallbacks: a path is spelled once, and whoever serves or falls back reads it from there."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from scrapy.utils.test import get_crawler

from screener_crawler.datasets import DATASETS
from screener_crawler.polygon.endpoints import ENDPOINTS
from screener_crawler.sandbox.market import SyntheticMarket
from screener_crawler.sandbox.responses import PLANS_OF_BASIC_KEYS, PolygonApi
from screener_crawler.spiders.arguments import SpiderArgumentError, parse_tickers
from screener_crawler.spiders.corporate_actions import CorporateActionsSpider
from screener_crawler.spiders.fundamentals import FundamentalsSpider

BASE = "http://127.0.0.1:1"
README = Path(__file__).parent.parent / "README.md"
SAMPLE_PATH_ARGUMENTS = {"ticker": "AAPL", "date": "2024-01-03", "start": "2024-01-02", "end": "2024-02-01"}
UNDECLARED_PATHS = (
    "/v2/aggs/ticker/AAPL/range/5/minute/2024-01-02/2024-02-01",
    "/v3/reference/tickers/AAPL/events",
    "/stocks/financials/v1/ratios",
    "/v3/reference/financials",
)

BARE_ANSWERS = {"market_status": "serverTime"}
"""Endpoints the vendor answers with a bare object, no ``status`` envelope, and a key it holds."""


@pytest.fixture(scope="module")
def api():
    return PolygonApi(SyntheticMarket(size=40, delisted=4))


def sample_path(endpoint):
    return endpoint.url_path(**{name: SAMPLE_PATH_ARGUMENTS[name] for name in endpoint.path_arguments})


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_every_declared_endpoint_is_served_by_the_sandbox_at_its_declared_path(api, name):
    endpoint = ENDPOINTS[name]
    path = sample_path(endpoint)
    routed, _, arguments = api.route(path)
    assert routed is endpoint and arguments == {n: SAMPLE_PATH_ARGUMENTS[n] for n in endpoint.path_arguments}
    params = {} if endpoint.path_arguments else {"ticker": "AAPL"}
    status, body = api.handle(path, params, BASE)
    assert status == 200
    assert BARE_ANSWERS[name] in body if name in BARE_ANSWERS else body["status"] == "OK"


def test_the_sandbox_routes_only_declared_endpoints(api):
    assert sorted(endpoint.name for endpoint, _ in api.routes) == sorted(ENDPOINTS)
    assert all(endpoint is ENDPOINTS[endpoint.name] for endpoint, _ in api.routes)
    for path in UNDECLARED_PATHS:
        assert api.route(path) is None
        assert api.handle(path, {}, BASE)[0] == 404


def test_the_sandbox_pages_within_the_declared_page_limit(api):
    for endpoint in ENDPOINTS.values():
        if not endpoint.page_limit:
            continue
        path = sample_path(endpoint)
        assert api.handle(path, {"limit": str(endpoint.page_limit)}, BASE)[0] == 200
        status, body = api.handle(path, {"limit": str(endpoint.page_limit + 1)}, BASE)
        assert status == 400 and str(endpoint.page_limit) in body["error"]


@pytest.mark.parametrize("ticker", ["AAPL", "BRK.B", "BF-B", "../X", "aapl", "TOOLONG", "A.B.C", "AAPL.ABCD"])
def test_the_sandbox_routes_a_ticker_path_exactly_when_the_spiders_accept_the_symbol(api, ticker):
    try:
        accepted = parse_tickers(ticker) == [ticker]
    except SpiderArgumentError:
        accepted = False
    for name in ("ticker_details", "ticker_events", "related_companies"):
        assert (api.route(ENDPOINTS[name].url_path(ticker=ticker)) is not None) == accepted


def test_a_basic_key_is_refused_exactly_the_endpoints_that_have_a_fallback(api):
    for endpoint in ENDPOINTS.values():
        assert api.basic_key_may_call(sample_path(endpoint)) == (endpoint.fallback is None)


def test_every_fallback_is_declared_serves_the_same_datasets_and_is_on_a_basic_plan():
    with_fallback = [endpoint for endpoint in ENDPOINTS.values() if endpoint.fallback]
    assert with_fallback
    for endpoint in with_fallback:
        fallback = endpoint.fallback_endpoint
        assert fallback is ENDPOINTS[endpoint.fallback] and fallback.fallback is None
        assert set(endpoint.datasets) <= set(fallback.datasets)
        assert fallback.plan in PLANS_OF_BASIC_KEYS and endpoint.plan not in PLANS_OF_BASIC_KEYS


def spider_of(spider_class, tickers):
    crawler = get_crawler(spider_class, {"POLYGON_BASE_URL": BASE, "POLYGON_TICKERS_PER_REQUEST": 100,
                                         "POLYGON_CORPORATE_ACTION_TICKERS_PER_REQUEST": 100})
    crawler.stats.open_spider()
    return spider_class.from_crawler(crawler, tickers=",".join(tickers))


@pytest.mark.parametrize("spider_class", [FundamentalsSpider, CorporateActionsSpider])
def test_a_listing_the_plan_lacks_is_replaced_by_requests_to_its_declared_fallback(spider_class):
    tickers = ["AAPL", "MSFT"]
    spider = spider_of(spider_class, tickers)
    listed = [d for d in spider_class.families[0].datasets if d != "ticker_events"]
    spider.pending = {dataset: dict.fromkeys(tickers) for dataset in listed}
    served = set()
    for request in spider.requests({dataset: tickers for dataset in listed}):
        endpoint = ENDPOINTS[request.meta["polygon_endpoint"]]
        assert urlsplit(request.url).path == endpoint.path and endpoint.fallback
        for replacement in spider.plan_not_entitled(request):
            assert replacement.meta["polygon_endpoint"] == endpoint.fallback
            assert urlsplit(replacement.url).path == endpoint.fallback_endpoint.path
            units = set(replacement.meta["polygon_units"])
            assert {dataset for dataset, _ in units} <= set(endpoint.fallback_endpoint.datasets)
            served |= units
    assert served == {(dataset, ticker) for dataset in listed for ticker in tickers}


@pytest.mark.parametrize("spider_class", [FundamentalsSpider, CorporateActionsSpider])
def test_a_fallback_the_plan_lacks_fails_its_units(spider_class):
    spider = spider_of(spider_class, ["AAPL"])
    spider.pending = {dataset: {"AAPL": None} for dataset in spider_class.families[0].datasets}
    spider._vx_scheduled = set()
    for endpoint in {ENDPOINTS[e.fallback] for e in ENDPOINTS.values() if e.fallback}:
        dataset = endpoint.datasets[0]
        if dataset not in spider_class.families[0].datasets:
            continue
        request = spider.api_request(endpoint, meta={"polygon_units": ((dataset, "AAPL"),)})
        items = list(spider.plan_not_entitled(request))
        assert [(i.dataset, i.ticker, i.reason) for i in items] == [
            (dataset, "AAPL", "not entitled: plan lacks this endpoint")]


def readme_sources():
    """(datasets, source cell) of each row of the README's "What is downloaded" table."""
    section = README.read_text().split("## What is downloaded", 1)[1].strip().split("\n\n", 1)[0]
    for line in section.splitlines()[2:]:
        dataset_cell, source_cell = [cell.strip() for cell in line.strip("|").split("|")][:2]
        yield [name for name in re.findall(r"`([^`]+)`", dataset_cell) if name in DATASETS], source_cell


def endpoints_cited(path):
    """The declared endpoints a README path names (``*`` one segment, ``...`` the rest)."""
    pattern = re.escape(path).replace(r"\*", "[^/]+").replace(r"\.\.\.", ".*")
    return {endpoint for endpoint in ENDPOINTS.values() if re.fullmatch(pattern, endpoint.path)}


def test_the_readme_names_every_endpoint_of_a_dataset_and_its_declared_fallback():
    rows = list(readme_sources())
    assert {dataset for datasets, _ in rows for dataset in datasets} >= {
        dataset for endpoint in ENDPOINTS.values() for dataset in endpoint.datasets}
    for datasets, source in rows:
        feeding = {endpoint for endpoint in ENDPOINTS.values() if set(datasets) & set(endpoint.datasets)}
        cited = {}
        for path in re.findall(r"`(/[^`]+)`", source):
            cited[path] = endpoints_cited(path)
            assert cited[path] and cited[path] <= feeding, (datasets, path)
        assert set().union(*cited.values()) == feeding, datasets
        for before, fallback in re.findall(r"`(/[^`]+)`; fallback `(/[^`]+)`", source):
            assert {endpoint.fallback_endpoint for endpoint in cited[before]} == cited[fallback]
