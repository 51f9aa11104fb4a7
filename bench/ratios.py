"""CPU cost of the financial ratios per ticker, on the output of a crawl: reading the inputs,
computing the rows, writing the units (into a scratch folder, the crawl's is left alone).

    python bench/ratios.py DATA_DIR [--tickers 200] [--batch 64]

``--batch`` is how many tickers are read and computed at once (the crawl's
``SCREENER_RATIO_BATCH_TICKERS``); ``--batch 1`` is one ticker at a time.
"""

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler.datasets import DATASETS  # noqa: E402
from screener_crawler.ratios.compute import compute_many, to_table  # noqa: E402
from screener_crawler.ratios.source import read_inputs  # noqa: E402
from screener_crawler.storage import by_ticker, write_unit  # noqa: E402


def universe(root, limit):
    tickers = ds.dataset(Path(root) / "universe", format="parquet").to_table(columns=["ticker"]).column(0)
    return sorted(tickers.to_pylist())[:limit]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--tickers", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    tickers = universe(args.root, args.tickers)
    spent = {"read": 0.0, "compute": 0.0, "write": 0.0}
    rows = 0
    with tempfile.TemporaryDirectory() as scratch:
        for start in range(0, len(tickers), args.batch):
            batch = tickers[start:start + args.batch]
            began = time.process_time()
            inputs = read_inputs(args.root, batch)
            read = time.process_time()
            table = to_table(compute_many(*inputs))
            computed = time.process_time()
            units = dict(by_ticker(table))
            for ticker in batch:
                write_unit(scratch, DATASETS["financial_ratios"], ticker, units.get(ticker, []), datetime.now(UTC))
            spent["read"] += read - began
            spent["compute"] += computed - read
            spent["write"] += time.process_time() - computed
            rows += table.num_rows
    per_ticker = {step: 1000 * seconds / len(tickers) for step, seconds in spent.items()}
    print(f"{len(tickers)} tickers, batches of {args.batch}, {rows} rows; CPU ms per ticker: "
          + ", ".join(f"{step} {ms:.1f}" for step, ms in per_ticker.items())
          + f"; read + compute {per_ticker['read'] + per_ticker['compute']:.1f}")


if __name__ == "__main__":
    main()
