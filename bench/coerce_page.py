"""CPU of reading one API page: the whole page read straight into Arrow
(``polygon/page_tables.py``, what a crawl runs on a plainly valid page, with the GIL released)
against decoded and coerced in Python (``polygon/pages.py``, its fallback); and of the
coercion alone, a column at a time (``coerce_records``) against a record at a time
(``coerce_record_by_record``, which finds and counts invalid values).

    python bench/coerce_page.py [--tickers 100]

Pages come from the sandbox (started here): a v1 income statements page for ``--tickers``
tickers, as the fundamentals family requests it, and one grouped daily page of every ticker.
"""

import argparse
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler.coercion import coerce_record_by_record, coerce_records  # noqa: E402
from screener_crawler.polygon.page_tables import grouped_daily_page, v1_statement_page  # noqa: E402
from screener_crawler.polygon.pages import PageReader, read_page  # noqa: E402
from screener_crawler.polygon.parsers import (  # noqa: E402
    daily_bar_row,
    grouped_daily_page_columns,
    v1_statement_page_rows,
    v1_statement_rows,
)
from screener_crawler.polygon.payload import decode_json  # noqa: E402
from screener_crawler.sandbox import SANDBOX_API_KEY, SandboxProcess  # noqa: E402


def fetch(url):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"})
    with urllib.request.urlopen(request) as response:
        body = response.read()
    return body, decode_json(body)


def share_left_to_another_thread(function, *args):
    """How much of its speed a Python loop on this thread keeps while ``function`` runs in
    another: near 1 when ``function`` releases the GIL, near 1/2 or less when it holds it."""
    def spin(seconds):
        count, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            count += 1
        return count / seconds

    alone = spin(0.2)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (function(*args), done.set()))
    started, count = time.perf_counter(), 0
    worker.start()
    while not done.is_set():
        count += 1
        time.perf_counter()
    worker.join()
    return count / (time.perf_counter() - started) / alone


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
    parser.add_argument("--universe-size", type=int, default=10070, help="tickers on the grouped daily page")
    args = parser.parse_args()
    with SandboxProcess(universe_size=max(args.tickers, args.universe_size), delisted=0, latency_ms=0) as sandbox:
        _, listing = fetch(f"{sandbox.url}/v3/reference/tickers?market=stocks&type=CS&limit=1000&sort=ticker")
        tickers = [record["ticker"] for record in listing["results"]][:args.tickers]
        body, page = fetch(f"{sandbox.url}/stocks/financials/v1/income-statements?limit=50000&sort=period_end.asc"
                           f"&tickers.any_of={','.join(tickers)}")
        statements = [row.row for record in page["results"]
                      for row in v1_statement_rows("income_statements", record, set(tickers))]
        daily_body, daily = fetch(f"{sandbox.url}/v2/aggs/grouped/locale/us/market/stocks/2024-03-01?adjusted=true")
        bars = [daily_bar_row(bar, bar["T"], True).row for bar in daily["results"]]
    readers = {
        "income_statements": (body, v1_statement_page_rows, v1_statement_page, ("income_statements", tickers)),
        "daily_prices": (daily_body, grouped_daily_page_columns, grouped_daily_page,
                         ("2024-03-01", frozenset(bar["T"] for bar in daily["results"]))),
    }
    for dataset, records in (("income_statements", statements), ("daily_prices", bars)):
        page_body, rows, table, reader_args = readers[dataset]
        print(f"{dataset}: {len(records):,} records ({len(page_body) / 1e6:.1f} MB page): "
              f"whole page into Arrow {least_ms(table, page_body, *reader_args):.0f} ms, "
              f"decoded and coerced in Python {least_ms(read_page, PageReader(rows, reader_args), page_body):.0f} ms; "
              f"coercion alone a column at a time {least_ms(coerce_records, dataset, records):.0f} ms, "
              f"a record at a time {least_ms(coerce_record_by_record, dataset, records):.0f} ms; "
              f"a Python loop on another thread keeps {share_left_to_another_thread(table, page_body, *reader_args):.0%} "
              f"of its speed while Arrow reads, "
              f"{share_left_to_another_thread(read_page, PageReader(rows, reader_args), page_body):.0%} while Python does")


if __name__ == "__main__":
    main()
