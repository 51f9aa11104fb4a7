"""The sandbox over real loopback HTTP: shapes against the recorded samples, paging, auth, errors, faults."""

from collections import Counter
import http.client
import json
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from screener_crawler.polygon.fields import V1_LINE_ITEMS, VX_CONCEPTS
from screener_crawler.sandbox import SANDBOX_API_KEY, SANDBOX_BASIC_KEY, SandboxProcess

SAMPLES = Path(__file__).parent / "fixtures" / "polygon"
SMALL = dict(universe_size=300, delisted=30)


@pytest.fixture(scope="module")
def sandbox():
    with SandboxProcess(**SMALL) as sb:
        yield sb


def call(sb, path, key=SANDBOX_API_KEY, timeout=60):
    """(status, headers, parsed-or-raw body)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = path if path.startswith("http") else sb.url + path
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as r:
            return r.status, r.headers, json.loads(r.read())
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, err.headers, json.loads(raw)
        except ValueError:
            return err.code, err.headers, raw


def sample(name):
    return json.loads((SAMPLES / name).read_text())


def jtype(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def assert_like(record, reference, allowed, optional=()):
    """Keys within ``allowed``, every reference key present unless optional, same JSON types."""
    assert set(record) <= set(allowed), set(record) - set(allowed)
    missing = set(reference) - set(record) - set(optional)
    assert not missing, missing
    for key in set(record) & set(reference):
        assert jtype(record[key]) == jtype(reference[key]), key


def assert_envelope(body, reference, extra=("next_url", "count")):
    assert set(body) - set(extra) == set(reference) - set(extra), (set(body), set(reference))


TICKER_FIELDS = {"ticker", "name", "market", "locale", "primary_exchange", "type", "active", "currency_name",
                 "currency_symbol", "cik", "composite_figi", "share_class_figi", "last_updated_utc",
                 "delisted_utc"}
STATEMENT_META = {"cik", "tickers", "period_end", "filing_date", "fiscal_year", "fiscal_quarter", "timeframe"}


def test_tickers_shape_and_paging(sandbox):
    ref = sample("tickers_v3_reference_tickers_page1__py_mock.json")
    status, _, body = call(sandbox, "/v3/reference/tickers?type=CS&market=stocks&active=true&limit=100")
    assert status == 200
    assert_envelope(body, ref)
    for rec in body["results"]:
        assert_like(rec, ref["results"][0], TICKER_FIELDS, optional={"cik"})
    seen = [r["ticker"] for r in body["results"]]
    url = body["next_url"]
    while url:
        assert "apiKey" not in url and SANDBOX_API_KEY not in url
        assert list(url.split("?", 1)[1].split("&")) == [url.split("?", 1)[1]] and "cursor=" in url
        status, _, page = call(sandbox, url)
        assert status == 200
        seen += [r["ticker"] for r in page["results"]]
        url = page.get("next_url")
    assert len(seen) == len(set(seen)) == 300
    assert seen == sorted(seen) and "AAPL" in seen and "MSFT" in seen
    _, _, delisted = call(sandbox, "/v3/reference/tickers?active=false&limit=1000")
    assert all(r["active"] is False and "delisted_utc" in r for r in delisted["results"])
    # 30 delisted companies; two companies that held a symbol before today's holder (one active,
    # one delisted); and one delisted listing repeated with an older last_updated_utc
    assert len(delisted["results"]) == 33
    reused = [r for r in delisted["results"] if r["ticker"] in seen]
    assert len(reused) == 1 and reused[0]["cik"] != next(
        r.get("cik") for r in call(sandbox, f"/v3/reference/tickers?ticker={reused[0]['ticker']}")[2]["results"])
    by_listing = Counter((r["ticker"], r.get("cik"), r["composite_figi"], r["delisted_utc"]) for r in delisted["results"])
    repeated = [listing for listing, count in by_listing.items() if count == 2]
    assert len(repeated) == 1
    stamps = [r["last_updated_utc"] for r in delisted["results"] if r["ticker"] == repeated[0][0]
              and r["composite_figi"] == repeated[0][2]]
    assert len(set(stamps)) == 2
    symbols = Counter(listing[0] for listing in by_listing)
    assert [ticker for ticker, count in symbols.items() if count == 2] != []


def test_ticker_details(sandbox):
    ref = sample("ticker_details_v3_AAPL__py_mock.json")
    status, _, body = call(sandbox, "/v3/reference/tickers/AAPL")
    assert status == 200
    assert_envelope(body, ref)
    assert body["results"]["name"] == "Apple Inc."
    assert_like(body["results"], ref["results"], set(ref["results"]) | {"round_lot", "ticker_suffix",
                                                                         "last_updated_utc", "delisted_utc"})


@pytest.mark.parametrize("path,sample_name,dataset", [
    ("balance-sheets", "balance_sheets_stocks_financials_v1__openapi_example.json", "balance_sheets"),
    ("income-statements", "income_statements_stocks_financials_v1__openapi_example.json", "income_statements"),
    ("cash-flow-statements", "cash_flow_statements_stocks_financials_v1__openapi_example.json", "cash_flow"),
])
def test_v1_statements_shape(sandbox, path, sample_name, dataset):
    ref = sample(sample_name)
    status, _, body = call(sandbox, f"/stocks/financials/v1/{path}?tickers=AAPL&limit=50000&sort=period_end.asc")
    assert status == 200
    assert_envelope(body, ref)
    allowed = STATEMENT_META | set(V1_LINE_ITEMS[dataset])
    timeframes = set()
    for rec in body["results"]:
        optional = set(V1_LINE_ITEMS[dataset]) | ({"fiscal_quarter"} if rec["timeframe"] == "annual" else set())
        assert_like(rec, ref["results"][0], allowed, optional)
        assert rec["tickers"] == ["AAPL"] and isinstance(rec["fiscal_year"], int)
        timeframes.add(rec["timeframe"])
    expected = {"quarterly", "annual"} | ({"trailing_twelve_months"} if dataset != "balance_sheets" else set())
    assert timeframes == expected
    dates = [r["period_end"] for r in body["results"]]
    assert dates == sorted(dates) and dates[0] >= "2009-03-29"


def test_vx_financials_shape(sandbox):
    ref = sample("financials_vX_reference_financials__openapi_example.json")
    status, _, body = call(sandbox, "/vX/reference/financials?ticker=AAPL&limit=20&timeframe=quarterly")
    assert status == 200
    assert_envelope(body, ref)
    top = set(ref["results"][0]) | {"acceptance_datetime", "tickers", "sic", "timeframe"}
    for rec in body["results"]:
        assert_like(rec, ref["results"][0], top, optional={"timeframe"})
        assert ("timeframe" in rec) == (rec["filing_date"] >= "2012-01-01")
        assert rec["fiscal_period"] in ("Q1", "Q2", "Q3", "Q4") and isinstance(rec["fiscal_year"], str)
        for block, points in rec["financials"].items():
            assert set(points) <= set(VX_CONCEPTS[block])
            for point in points.values():
                assert set(point) == {"label", "order", "unit", "value"}
    assert "next_url" in body
    _, _, page2 = call(sandbox, body["next_url"])
    assert page2["results"] and page2["results"][0]["end_date"] > body["results"][-1]["end_date"]


def test_vx_and_v1_agree(sandbox):
    _, _, vx = call(sandbox, "/vX/reference/financials?ticker=MSFT&timeframe=annual&limit=100")
    _, _, v1 = call(sandbox, "/stocks/financials/v1/income-statements?tickers=MSFT&timeframe=annual&limit=100")
    by_end = {r["period_end"]: r for r in v1["results"]}
    assert vx["results"]
    for rec in vx["results"]:
        inc = rec["financials"]["income_statement"]
        assert inc["revenues"]["value"] == by_end[rec["end_date"]]["revenue"]
        assert inc["diluted_earnings_per_share"]["unit"] == "USD / shares"


@pytest.mark.parametrize("path,sample_name", [
    ("/stocks/v1/dividends?ticker=AAPL", "dividends_stocks_v1__openapi_example.json"),
    ("/v3/reference/dividends?ticker=AAPL", "dividends_v3_reference_dividends__openapi_example.json"),
    ("/stocks/v1/splits?ticker=AAPL", "splits_stocks_v1__openapi_example.json"),
    ("/v3/reference/splits?ticker=AAPL", "splits_v3_reference_splits__openapi_example.json"),
])
def test_corporate_actions_shape(sandbox, path, sample_name):
    ref = sample(sample_name)
    status, _, body = call(sandbox, path)
    assert status == 200 and body["results"]
    assert_envelope(body, ref)
    allowed = set(ref["results"][0]) | {"currency"}
    for rec in body["results"]:
        assert_like(rec, ref["results"][0], allowed)


def test_market_wide_dividends_page_without_duplicates_from_paging(sandbox):
    _, _, whole = call(sandbox, "/stocks/v1/dividends?limit=5000")
    rows, url = [], "/stocks/v1/dividends?limit=700"
    while url:
        _, _, page = call(sandbox, url)
        rows += page["results"]
        url = page.get("next_url")
    assert rows == whole["results"] if "next_url" not in whole else len(rows) > 5000
    ids = [r["id"] for r in rows]
    assert len(set(ids)) < len(ids) or len(ids) < 100  # the API repeats ~1% of records


def test_events_related(sandbox):
    for path, name in (("/vX/reference/tickers/AAPL/events", "ticker_events_vX_META_types_ticker_change__py_mock.json"),
                       ("/v1/related-companies/AAPL", "related_companies_v1__openapi_example.json")):
        ref = sample(name)
        status, _, body = call(sandbox, path)
        assert status == 200
        assert_envelope(body, ref)
        if isinstance(ref["results"], dict):
            assert_like(body["results"], ref["results"], set(ref["results"]))
            assert_like(body["results"]["events"][0], ref["results"]["events"][0], {"ticker_change", "type", "date"})
        else:
            assert 5 <= len(body["results"]) <= 15 and all(set(r) == {"ticker"} for r in body["results"])


def test_aggs(sandbox):
    ref = sample("aggs_v2_range_1_day_AAPL_2005-04-01_2005-04-04__py_mock.json")
    status, _, body = call(sandbox, "/v2/aggs/ticker/AAPL/range/1/day/2020-08-24/2020-09-04?adjusted=false")
    assert status == 200
    assert_envelope(body, ref)
    for bar in body["results"]:
        assert_like(bar, ref["results"][0], {"o", "h", "l", "c", "v", "vw", "n", "t", "otc"})
    closes = {b["t"]: b["c"] for b in body["results"]}
    assert len(closes) == 10
    friday, monday = sorted(closes)[4], sorted(closes)[5]
    assert 3.2 < closes[friday] / closes[monday] < 5.0  # AAPL's 4-for-1 on 2020-08-31
    _, _, adj = call(sandbox, "/v2/aggs/ticker/AAPL/range/1/day/2020-08-24/2020-09-04")
    adj_closes = [b["c"] for b in adj["results"]]
    assert max(adj_closes) / min(adj_closes) < 1.5
    _, _, paged = call(sandbox, "/v2/aggs/ticker/AAPL/range/1/day/2020-01-01/2020-12-31?limit=100")
    assert paged["resultsCount"] == 100 and "cursor=" in paged["next_url"]
    _, _, rest = call(sandbox, paged["next_url"])
    assert rest["results"][0]["t"] > paged["results"][-1]["t"]


def test_grouped(sandbox):
    ref = sample("aggs_v2_grouped_daily_us_stocks_2005-04-04__py_mock.json")
    status, _, body = call(sandbox, "/v2/aggs/grouped/locale/us/market/stocks/2024-03-01")
    assert status == 200
    assert_envelope(body, ref)
    assert body["resultsCount"] > 200
    assert_like(body["results"][0], ref["results"][0], {"T", "o", "h", "l", "c", "v", "vw", "n", "t"})
    _, _, holiday = call(sandbox, "/v2/aggs/grouped/locale/us/market/stocks/2024-12-25")
    assert holiday["results"] == [] and holiday["resultsCount"] == 0
    ids = {body["request_id"], holiday["request_id"], ref["request_id"]}
    assert len(ids) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)


def test_auth_errors(sandbox):
    status, _, body = call(sandbox, "/v3/reference/tickers", key=None)
    assert status == 401 and body["error"] == "API Key was not provided"
    status, _, body = call(sandbox, "/v3/reference/tickers", key="nope")
    assert status == 401 and body["error"] == "Unknown API Key" and "nope" not in json.dumps(body)
    for path in ("/stocks/financials/v1/balance-sheets", "/stocks/v1/dividends", "/stocks/v1/splits"):
        status, _, body = call(sandbox, path, key=SANDBOX_BASIC_KEY)
        assert status == 403 and body["status"] == "NOT_AUTHORIZED" and "not entitled" in body["message"]
    status, _, body = call(sandbox, "/v3/reference/dividends?ticker=AAPL", key=SANDBOX_BASIC_KEY)
    assert status == 200
    with urllib.request.urlopen(f"{sandbox.url}/v3/reference/tickers?limit=1&apiKey={SANDBOX_API_KEY}") as r:
        raw = r.read().decode() + str(r.headers)
    assert SANDBOX_API_KEY not in raw


def test_not_found_and_bad_request(sandbox):
    for path in ("/vX/reference/tickers/ZZZZZZ/events", "/v1/related-companies/ZZZZZZ", "/v3/reference/tickers/ZZZZZZ"):
        status, _, body = call(sandbox, path)
        assert status == 404 and body["status"] == "NOT_FOUND"
    for path in ("/v3/reference/tickers?limit=1001", "/stocks/financials/v1/balance-sheets?limit=50001",
                 "/stocks/financials/v1/balance-sheets?period_end.gte=2020-13-01",
                 "/stocks/financials/v1/balance-sheets?sort=bogus.asc", "/vX/reference/financials?limit=101"):
        status, _, body = call(sandbox, path)
        assert status == 400 and body["status"] == "ERROR" and body["error"]


def test_rate_limit():
    with SandboxProcess(rate_limit=3, **SMALL) as sb:
        codes = []
        for _ in range(10):
            status, headers, body = call(sb, "/v1/related-companies/AAPL")
            codes.append(status)
            if status == 429:
                assert int(headers["Retry-After"]) >= 1 and body["status"] == "ERROR"
        assert 429 in codes and codes[0] == 200


@pytest.mark.parametrize("fault", ["fault_5xx", "fault_truncated", "fault_reset", "fault_stall"])
def test_faults(fault):
    with SandboxProcess(stall_seconds=60, **{fault: 1.0}, **SMALL) as sb:
        host, port = sb.url.rsplit("/", 1)[1].split(":")
        # a stall is told from a slow answer by waiting well past any answer and well short of the stall
        conn = http.client.HTTPConnection(host, int(port), timeout=5.0 if fault == "fault_stall" else 60.0)
        try:
            conn.request("GET", "/v1/related-companies/AAPL", headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"})
            if fault in ("fault_reset", "fault_stall"):
                with pytest.raises((ConnectionError, http.client.RemoteDisconnected, socket.timeout, OSError)):
                    conn.getresponse().read()
                return
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        if fault == "fault_5xx":
            assert resp.status in (502, 503, 504) and resp.getheader("Content-Type").startswith("text/html")
            assert b"<html>" in raw
        else:
            assert resp.status == 200
            with pytest.raises(ValueError):
                json.loads(raw)


def test_5xx_faults_serve_502_503_and_504_in_turn():
    """Which gateway error a fault is does not depend on the order requests arrive in, so a
    crawl that meets three 5xx faults meets every kind."""
    with SandboxProcess(fault_5xx=1.0, **SMALL) as sb:
        codes = [call(sb, "/v1/related-companies/AAPL")[0] for _ in range(6)]
    assert codes == [502, 503, 504, 502, 503, 504]


def test_a_response_store_serves_the_answers_a_first_sandbox_kept_to_a_second_one_on_another_port(tmp_path):
    store = tmp_path / "answers"
    paths = ("/stocks/financials/v1/income-statements?tickers.any_of=AAPL,MSFT&limit=2",
             "/v2/aggs/grouped/locale/us/market/stocks/2024-03-01", "/v3/reference/tickers/ZZZZZZ")
    with SandboxProcess(universe_size=50, delisted=5, response_store=str(store)) as first:
        answers = [call(first, path) for path in paths]
    kept = sorted(store.rglob("*.json"))
    assert len(kept) == 2, "only the two successful answers are kept"
    for one in kept:
        one.write_bytes(one.read_bytes().replace(b'"results":[', b'"kept":true,"results":[', 1))
    with SandboxProcess(universe_size=50, delisted=5, response_store=str(store)) as second:
        assert second.url != first.url
        again = [call(second, path) for path in paths]
        _, _, next_page = call(second, again[0][2]["next_url"])
    with SandboxProcess(universe_size=60, delisted=5, response_store=str(store)) as other_market:
        _, _, other = call(other_market, paths[1])
    for (status, _, body), (status_again, _, body_again) in zip(answers[:2], again[:2]):
        assert status == status_again == 200 and body_again.pop("kept") is True
        assert body_again["request_id"] != body["request_id"] and re.fullmatch(r"[0-9a-f]{32}", body_again["request_id"])
        assert {**body_again, "request_id": None} == {**body, "request_id": None,
                                                       **({"next_url": body.get("next_url", "").replace(first.url, second.url)}
                                                          if "next_url" in body else {})}
    assert again[0][2]["next_url"].startswith(second.url) and next_page["results"]
    assert again[2][0] == answers[2][0] == 404
    assert "kept" not in other, "a market of another size has its own answers"
