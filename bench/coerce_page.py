"""CPU of coercing one API page to its dataset's schema (``pipelines/validation.py``), a column
at a time (``coerce_records``, what a crawl runs) against a record at a time
(``coerce_record_by_record``, which it falls back to when a page holds an invalid value).
The crawl does it in a thread of its own process, holding the GIL the reactor needs.

    python bench/coerce_page.py [--tickers 100]

Pages come from the sandbox (started here): a v1 income statements page for ``--tickers``
tickers, as the fundamentals family requests it, and one grouped daily page of every ticker.
"""

import argparse
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler.coercion import coerce_record_by_record, coerce_records  # noqa: E402
from screener_crawler.polygon.parsers import daily_bar_row, v1_statement_rows  # noqa: E402
from screener_crawler.polygon.payload import decode_json  # noqa: E402
from screener_crawler.sandbox import SANDBOX_API_KEY, SandboxProcess  # noqa: E402


def fetch(url):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"})
    with urllib.request.urlopen(request) as response:
        body = response.read()
    return len(body), decode_json(body)


def least_ms(function, *args, rounds=3):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function(*args)
        times.append(1000 * (time.perf_counter() - started))
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickers", type=int, default=100)
    args = parser.parse_args()
    with SandboxProcess(universe_size=max(args.tickers, 1000), delisted=0, latency_ms=0) as sandbox:
        _, listing = fetch(f"{sandbox.url}/v3/reference/tickers?market=stocks&type=CS&limit=1000&sort=ticker")
        tickers = [record["ticker"] for record in listing["results"]][:args.tickers]
        size, page = fetch(f"{sandbox.url}/stocks/financials/v1/income-statements?limit=50000&sort=period_end.asc"
                           f"&tickers.any_of={','.join(tickers)}")
        statements = [row.row for record in page["results"]
                      for row in v1_statement_rows("income_statements", record, set(tickers))]
        daily_size, daily = fetch(f"{sandbox.url}/v2/aggs/grouped/locale/us/market/stocks/2024-03-01?adjusted=true")
        bars = [daily_bar_row(bar, bar["T"], True).row for bar in daily["results"]]
    for dataset, records, size in (("income_statements", statements, size), ("daily_prices", bars, daily_size)):
        print(f"{dataset}: {len(records):,} records ({size / 1e6:.1f} MB page): "
              f"a column at a time {least_ms(coerce_records, dataset, records):.0f} ms, "
              f"a record at a time {least_ms(coerce_record_by_record, dataset, records):.0f} ms")


if __name__ == "__main__":
    main()
