"""Sandbox throughput: per-ticker requests/s with concurrent keep-alive clients, and the time of a
full market-wide v1 balance-sheet listing. Starts the sandbox in its own process.

    python bench/sandbox_throughput.py [--clients 16] [--tickers 400] [--skip-market]
"""

import argparse
import http.client
import json
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener_crawler.sandbox import SANDBOX_API_KEY, SandboxProcess  # noqa: E402

HEADERS = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
PER_TICKER = (
    "/stocks/financials/v1/balance-sheets?tickers={t}&limit=50000&sort=period_end.asc",
    "/stocks/financials/v1/income-statements?tickers={t}&limit=50000&sort=period_end.asc",
    "/vX/reference/financials?ticker={t}&limit=100",
    "/stocks/v1/dividends?ticker={t}&limit=5000",
    "/vX/reference/tickers/{t}/events",
    "/v1/related-companies/{t}",
    "/v2/aggs/ticker/{t}/range/1/day/2009-01-01/2025-11-21?limit=50000",
)


def get(conn, path):
    conn.request("GET", path, headers=HEADERS)
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200, (resp.status, body[:200])
    return json.loads(body)


def per_ticker(url, tickers, clients):
    host = urlsplit(url)
    jobs = [p.format(t=t) for t in tickers for p in PER_TICKER]
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


def market_listing(url, path):
    host = urlsplit(url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=600)
    start, rows, pages = time.perf_counter(), 0, 0
    while path:
        body = get(conn, path)
        rows += len(body["results"])
        pages += 1
        nxt = body.get("next_url")
        path = nxt[nxt.index("/", 8):] if nxt else None
    return rows, pages, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--tickers", type=int, default=400)
    parser.add_argument("--skip-market", action="store_true")
    args = parser.parse_args()
    with SandboxProcess() as sb:
        conn = http.client.HTTPConnection(urlsplit(sb.url).hostname, urlsplit(sb.url).port)
        tickers = [r["ticker"] for r in get(conn, "/v3/reference/tickers?limit=1000")["results"]]
        tickers = tickers[:: max(1, len(tickers) // args.tickers)][: args.tickers]
        n, secs = per_ticker(sb.url, tickers, args.clients)
        print(f"per-ticker endpoints: {n} requests in {secs:.1f}s = {n / secs:.0f} req/s "
              f"({args.clients} clients, {len(tickers)} tickers x {len(PER_TICKER)} endpoints, cold caches)")
        if not args.skip_market:
            rows, pages, secs = market_listing(sb.url, "/stocks/financials/v1/balance-sheets?limit=50000&sort=period_end.asc")
            print(f"market-wide v1 balance sheets: {rows} rows in {pages} pages, {secs:.1f}s "
                  f"({rows / secs:.0f} rows/s, client only reading)")


if __name__ == "__main__":
    main()
