"""Sandbox throughput, against the full default universe (10,070 + 1,000 tickers).

1. Per-ticker endpoint mix (aggs full history, vX financials per timeframe, v1 statements for one
   ticker, v3 dividends and splits, events, related companies) with concurrent keep-alive clients,
   each ticker requested once per endpoint (cold caches), the sandbox in its own process; plus the
   server-side cost of a full-history aggs request on cold tickers (in this process, no HTTP).
2. Grouped daily bars of consecutive trading days (≈10k bars each), over HTTP and server-side.
3. Market-wide v1 listings (no ticker filter, 50,000-row pages) of each statement type: time to the
   first page and to the last one, the client parsing every page as a crawler would.

    python bench/sandbox_throughput.py [--clients 16] [--tickers 400] [--skip-market] [--skip-grouped]
"""

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener_crawler.sandbox import SANDBOX_API_KEY, SandboxProcess  # noqa: E402
from screener_crawler.sandbox.market import SyntheticMarket  # noqa: E402
from screener_crawler.sandbox.responses import PolygonApi, to_json  # noqa: E402
from screener_crawler.trading_calendar import trading_days  # noqa: E402

HEADERS = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
AGGS_FULL = "/v2/aggs/ticker/{t}/range/1/day/2009-01-01/2025-11-21?limit=50000"
PER_TICKER = (
    AGGS_FULL,
    "/vX/reference/financials?ticker={t}&timeframe=quarterly&limit=100",
    "/vX/reference/financials?ticker={t}&timeframe=annual&limit=100",
    "/vX/reference/financials?ticker={t}&timeframe=ttm&limit=100",
    "/stocks/financials/v1/balance-sheets?tickers={t}&limit=50000&sort=period_end.asc",
    "/stocks/financials/v1/income-statements?tickers={t}&limit=50000&sort=period_end.asc",
    "/stocks/financials/v1/cash-flow-statements?tickers={t}&limit=50000&sort=period_end.asc",
    "/v3/reference/dividends?ticker={t}&limit=1000",
    "/v3/reference/splits?ticker={t}&limit=1000",
    "/vX/reference/tickers/{t}/events",
    "/v1/related-companies/{t}",
)
LISTINGS = ("balance-sheets", "income-statements", "cash-flow-statements")


def get(conn, path):
    conn.request("GET", path, headers=HEADERS)
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200, (resp.status, body[:200])
    return json.loads(body)


def per_ticker(url, tickers, clients):
    host = urlsplit(url)
    jobs = [p.format(t=t) for t in tickers for p in PER_TICKER]
    jobs.reverse()
    lock, done = threading.Lock(), [0]

    def worker():
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
        while True:
            with lock:
                if not jobs:
                    return
                path = jobs.pop()
            get(conn, path)
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return done[0], time.perf_counter() - start


def server_side(paths):
    """Milliseconds per request of ``PolygonApi.handle`` + serialisation, in this process."""
    api = PolygonApi(SyntheticMarket())
    out = []
    for path in paths:
        route, _, query = path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if p)
        start = time.perf_counter()
        status, body = api.handle(route, params, "http://127.0.0.1")
        to_json(body)
        out.append((time.perf_counter() - start) * 1000)
        assert status == 200
    return out


def grouped_days(n):
    return [d.isoformat() for d in trading_days(date(2024, 1, 2), date(2024, 1, 2) + timedelta(days=2 * n))][:n]


def grouped_http(url, days):
    host = urlsplit(url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=600)
    times, bars = [], 0
    for d in days:
        start = time.perf_counter()
        body = get(conn, f"/v2/aggs/grouped/locale/us/market/stocks/{d}")
        times.append((time.perf_counter() - start) * 1000)
        bars += body["resultsCount"]
    return times, bars


def market_listing(url, path):
    host = urlsplit(url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=600)
    start, rows, pages, first = time.perf_counter(), 0, 0, None
    while path:
        body = get(conn, path)
        if first is None:
            first = time.perf_counter() - start
        rows += len(body["results"])
        pages += 1
        nxt = body.get("next_url")
        path = nxt[nxt.index("/", 8):] if nxt else None
    return rows, pages, first, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--tickers", type=int, default=400)
    parser.add_argument("--grouped-days", type=int, default=40)
    parser.add_argument("--skip-market", action="store_true")
    parser.add_argument("--skip-grouped", action="store_true")
    args = parser.parse_args()
    with SandboxProcess() as sb:
        conn = http.client.HTTPConnection(urlsplit(sb.url).hostname, urlsplit(sb.url).port)
        universe = [r["ticker"] for r in get(conn, "/v3/reference/tickers?limit=1000")["results"]]
        tickers = universe[:: max(1, len(universe) // args.tickers)][: args.tickers]
        n, secs = per_ticker(sb.url, tickers, args.clients)
        print(f"1. per-ticker endpoint mix: {n} requests in {secs:.1f}s = {n / secs:.0f} req/s "
              f"({args.clients} clients, {len(tickers)} tickers x {len(PER_TICKER)} endpoints, cold caches)",
              flush=True)
        cold = [t for t in universe if t not in set(tickers)][:: 10][:60]
        ms = server_side([AGGS_FULL.format(t=t) for t in cold])
        print(f"   aggs full history, server-side, cold tickers: mean {statistics.mean(ms):.1f} ms, "
              f"median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms ({len(ms)} tickers)", flush=True)
        if not args.skip_grouped:
            days = grouped_days(args.grouped_days)
            times, bars = grouped_http(sb.url, days)
            print(f"2. grouped daily over HTTP: {len(days)} consecutive days, {bars / len(days):.0f} bars each: "
                  f"first {times[0]:.0f} ms (builds per-ticker tables), then mean {statistics.mean(times[1:]):.1f} ms, "
                  f"median {statistics.median(times[1:]):.1f} ms, max {max(times[1:]):.1f} ms", flush=True)
            ms = server_side(["/v2/aggs/grouped/locale/us/market/stocks/" + d for d in days])
            print(f"   grouped daily server-side: first {ms[0]:.0f} ms, then mean {statistics.mean(ms[1:]):.1f} ms, "
                  f"median {statistics.median(ms[1:]):.1f} ms", flush=True)
        if not args.skip_market:
            for name in LISTINGS:
                rows, pages, first, secs = market_listing(
                    sb.url, f"/stocks/financials/v1/{name}?limit=50000&sort=period_end.asc")
                print(f"3. market-wide v1 {name}: {rows} rows in {pages} pages, first page {first:.1f}s, "
                      f"all {secs:.1f}s ({rows / secs:.0f} rows/s, client parsing each page)", flush=True)


if __name__ == "__main__":
    main()
