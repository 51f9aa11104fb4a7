"""Baseline: what a user would write without the crawler — the official client and a thread pool.

    python bench/baseline_client.py --base-url http://127.0.0.1:8765 --data-dir /tmp/baseline \
        --prices-start 2009-01-01 --prices-end 2025-11-21

Polygon's official client (``massive``, the successor of ``polygon-api-client``) with its
``RESTClient`` pointed at ``--base-url``, driven by a ``ThreadPoolExecutor`` of 8 workers, one
ticker per task. Each task fetches the ticker's v1 balance sheets, income statements and
cash-flow statements, dividends, splits, ticker events, related companies and daily bars, and
writes them with pandas in the crawler's Hive layout
(``<root>/<dataset>/year=YYYY/month=MM/ticker=<T>.parquet``, ``related_tickers/ticker=<T>.parquet``,
``universe/universe.parquet``). No batching, no rate limiting beyond the client's own retries.

Prints one JSON line: tickers, HTTP requests sent (urllib3's retries included), 429s, retries,
rows written per dataset, failed tickers.
"""

import argparse
import dataclasses
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
import urllib3
from massive import RESTClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler.sandbox import SANDBOX_API_KEY  # noqa: E402

WORKERS = 8


class CountingClient(RESTClient):
    """A RESTClient that counts what its connection pool sends, including urllib3's retries."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.requests = self.http_429 = self.retried = 0
        self._lock = threading.Lock()
        self._send = self.client.request
        self.client.request = self._counted

    def _counted(self, *args, **kwargs):
        try:
            response = self._send(*args, **kwargs)
        except urllib3.exceptions.MaxRetryError:
            with self._lock:
                self.requests += self.retries + 1
                self.retried += self.retries
            raise
        history = response.retries.history if response.retries else ()
        with self._lock:
            self.requests += 1 + len(history)
            self.retried += len(history)
            self.http_429 += sum(step.status == 429 for step in history) + (response.status == 429)
        return response


def frame(records):
    return pd.DataFrame([dataclasses.asdict(record) for record in records])


def ticker_events(client, ticker):
    results = client.get_ticker_events(ticker, types="ticker_change")
    return pd.DataFrame([
        {"date": event["date"], "event_type": event["type"],
         "new_ticker": (event.get(event["type"]) or {}).get("ticker"),
         "name": results.name, "composite_figi": results.composite_figi, "cik": results.cik}
        for event in results.events or ()
    ])


def daily_bars(client, ticker, start, end):
    bars = frame(client.list_aggs(ticker, 1, "day", start, end, adjusted=False, sort="asc", limit=50000))
    if not bars.empty:
        bars.insert(0, "date", pd.to_datetime(bars.pop("timestamp"), unit="ms", utc=True)
                    .dt.tz_convert("America/New_York").dt.tz_localize(None).dt.normalize())
    return bars


def write(root, dataset, ticker, data, date_column, downloaded_at):
    """Write one ticker's rows of a dataset, one file per month of ``date_column``; rows written."""
    if data.empty:
        return 0
    data["ticker"] = ticker
    data["downloaded_at"] = downloaded_at
    if date_column is None:
        path = root / dataset / f"ticker={ticker}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        data.to_parquet(path, index=False)
        return len(data)
    data[date_column] = pd.to_datetime(data[date_column])
    data = data.dropna(subset=[date_column])
    for (year, month), part in data.groupby([data[date_column].dt.year, data[date_column].dt.month]):
        path = root / dataset / f"year={year:04d}" / f"month={month:02d}" / f"ticker={ticker}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(path, index=False)
    return len(data)


def download(client, root, ticker, start, end):
    """Fetch and write every dataset of one ticker; rows written per dataset."""
    downloaded_at = pd.Timestamp.now(tz="UTC")
    fetched = {
        "balance_sheets": (frame(client.list_financials_balance_sheets(tickers=ticker, limit=50000)), "filing_date"),
        "income_statements": (frame(client.list_financials_income_statements(tickers=ticker, limit=50000)),
                              "filing_date"),
        "cash_flow": (frame(client.list_financials_cash_flow_statements(tickers=ticker, limit=50000)),
                      "filing_date"),
        "dividends": (frame(client.list_stocks_dividends(ticker=ticker, limit=5000)), "ex_dividend_date"),
        "splits": (frame(client.list_stocks_splits(ticker=ticker, limit=5000)), "execution_date"),
        "ticker_events": (ticker_events(client, ticker), "date"),
        "related_tickers": (pd.DataFrame([{"related_ticker": company.ticker, "rank": rank} for rank, company
                                          in enumerate(client.get_related_companies(ticker), start=1)]), None),
        "daily_prices": (daily_bars(client, ticker, start, end), "date"),
    }
    return {dataset: write(root, dataset, ticker, data, date_column, downloaded_at)
            for dataset, (data, date_column) in fetched.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", default=SANDBOX_API_KEY)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--prices-start", default="2009-01-01")
    parser.add_argument("--prices-end", required=True)
    parser.add_argument("--sample", type=int, default=0,
                        help="download only this many tickers, spread evenly over the sorted universe (0 = all)")
    args = parser.parse_args()

    client = CountingClient(api_key=args.api_key, base=args.base_url)
    universe = pd.concat([frame(client.list_tickers(market="stocks", type="CS", active=active, limit=1000))
                          for active in (True, False)], ignore_index=True)
    (args.data_dir / "universe").mkdir(parents=True, exist_ok=True)
    universe.to_parquet(args.data_dir / "universe" / "universe.parquet", index=False)

    rows = {"universe": len(universe)}
    tickers = sorted(universe["ticker"])
    if 0 < args.sample < len(tickers):
        tickers = [tickers[i * len(tickers) // args.sample] for i in range(args.sample)]
    failed = {}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {pool.submit(download, client, args.data_dir, ticker, args.prices_start, args.prices_end): ticker
                   for ticker in tickers}
        for future in as_completed(futures):
            try:
                for dataset, count in future.result().items():
                    rows[dataset] = rows.get(dataset, 0) + count
            except Exception as error:
                failed[futures[future]] = repr(error)[:200]
                print(f"{futures[future]}: {error!r}", file=sys.stderr)

    print(json.dumps({"tickers": len(tickers), "universe": len(universe), "api_requests": client.requests, "http_429": client.http_429,
                      "retries": client.retried, "rows": rows, "tickers_failed": len(failed)}))


if __name__ == "__main__":
    main()
