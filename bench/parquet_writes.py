"""CPU per small Parquet file, for the file shapes a crawl writes, with the writer options of
``storage.PARQUET_OPTIONS`` against pyarrow's defaults, and the wall time of writing many
files from 1, 2 and 4 threads (pyarrow holds the GIL for much of a small write).

    python bench/parquet_writes.py DATA_DIR [--files 400]

DATA_DIR is the data root of a finished crawl (a sample file of each shape is read from it).
"""

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler.storage import PARQUET_OPTIONS  # noqa: E402

SHAPES = ("income_statements", "financial_ratios", "daily_prices")


def sample(root, dataset):
    return pq.read_table(next((Path(root) / dataset).glob("year=*/month=*/ticker=*.parquet")), partitioning=None)


def cpu_ms_per_file(table, folder, files, options):
    for i in range(20):
        pq.write_table(table, folder / "warm.parquet", **options)
    started = time.process_time()
    for i in range(files):
        pq.write_table(table, folder / f"{i}.parquet", **options)
    return 1000 * (time.process_time() - started) / files


def threaded_wall(table, folder, files, threads):
    def write(indexes):
        for i in indexes:
            pq.write_table(table, folder / f"t{i}.parquet", **PARQUET_OPTIONS)
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, [range(n, files, threads) for n in range(threads)]))
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--files", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for dataset in SHAPES:
            table = sample(args.root, dataset)
            default = cpu_ms_per_file(table, folder, args.files, {})
            chosen = cpu_ms_per_file(table, folder, args.files, PARQUET_OPTIONS)
            print(f"{dataset:18} {table.num_columns:4} columns {table.num_rows:3} rows: "
                  f"default {default:.2f} ms, PARQUET_OPTIONS {chosen:.2f} ms per file")
        table = sample(args.root, "daily_prices")
        walls = {n: threaded_wall(table, folder, 5 * args.files, n) for n in (1, 2, 4)}
        print(f"{5 * args.files} price files: " + ", ".join(f"{n} thread(s) {s:.2f} s" for n, s in walls.items()))


if __name__ == "__main__":
    main()
