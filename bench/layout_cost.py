"""CPU of writing a crawl's rows in the storage contract's layout (DESIGN §3: one file per
ticker per month, ``year=YYYY/month=MM/ticker=<T>.parquet``) against one file per month
holding every ticker (``year=YYYY/month=MM/part.parquet``), for the same rows.

    python bench/layout_cost.py DATA_DIR [--tickers 200] [--datasets daily_prices,...]

DATA_DIR is the data root of a finished crawl. Its rows are read back and written again into a
scratch folder, once per layout, from one thread: ``storage.write_unit`` per ticker (what a
crawl runs: files, facts, stale-file removal) and ``storage.write_atomically`` per month. The
per-file CPU is what caps a crawl's speed once requests are cheap: a 1,000-ticker crawl writes
about 420,000 files.
"""

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler.datasets import DATASETS  # noqa: E402
from screener_crawler.storage import partitions, stampless_schema, unit_table, write_atomically, write_unit  # noqa: E402

DEFAULT_DATASETS = ("daily_prices", "income_statements", "financial_ratios")


def read_rows(root, dataset, tickers):
    """The rows of the first ``tickers`` tickers of the universe, without ``downloaded_at``,
    and the tickers taken. Only their files are opened: a dataset of a 1,000-ticker crawl has
    up to 175,000."""
    universe = ds.dataset(Path(root) / "universe").to_table(columns=["ticker"])
    chosen = sorted(set(universe.column("ticker").to_pylist()))[:tickers]
    base = Path(root) / dataset.name
    files = [str(path) for ticker in chosen for path in base.glob(f"**/ticker={ticker}.parquet")]
    table = ds.dataset(files, partitioning=ds.partitioning(flavor="hive"), partition_base_dir=str(base),
                       schema=dataset.schema).to_table(columns=list(stampless_schema(dataset).names))
    return table, chosen


def per_ticker_files(scratch, dataset, table, tickers, stamp):
    files = 0
    for ticker in tickers:
        rows = table.filter(pc.equal(table.column("ticker"), ticker))
        files += write_unit(scratch, dataset, ticker, rows, stamp).files
    return files


def per_month_files(scratch, dataset, table, stamp):
    files = 0
    for directory, rows in partitions(scratch, dataset, unit_table(dataset, table, stamp)):
        write_atomically(rows, directory / "part.parquet")
        files += 1
    return files


def measured(work):
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--tickers", type=int, default=200, help="tickers of the crawl to rewrite")
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    args = parser.parse_args()
    stamp = datetime.now(timezone.utc)
    totals = {"per ticker": [0, 0.0], "per month": [0, 0.0]}
    print(f"{'dataset':18} {'layout':11} {'files':>8} {'CPU s':>8} {'ms/file':>8} {'CPU s/ticker':>13}")
    for name in args.datasets.split(","):
        dataset = DATASETS[name]
        table, tickers = read_rows(args.root, dataset, args.tickers)
        with tempfile.TemporaryDirectory() as scratch:
            runs = {
                "per ticker": measured(lambda: per_ticker_files(Path(scratch, "a"), dataset, table, tickers, stamp)),
                "per month": measured(lambda: per_month_files(Path(scratch, "b"), dataset, table, stamp)),
            }
        for layout, (files, cpu, _) in runs.items():
            totals[layout][0] += files
            totals[layout][1] += cpu
            print(f"{name:18} {layout:11} {files:8,} {cpu:8.2f} {1000 * cpu / max(files, 1):8.3f} "
                  f"{cpu / len(tickers):13.4f}")
    print(f"{len(tickers)} tickers")
    for layout, (files, cpu) in totals.items():
        print(f"all datasets above, {layout}: {files:,} files, {cpu:.2f} CPU s, {cpu / len(tickers):.4f} CPU s per ticker")
    print("(per ticker, files and CPU grow with the tickers; per month, the files stay as many and "
          "only the rows grow: rerun with more --tickers to see how far)")


if __name__ == "__main__":
    main()
