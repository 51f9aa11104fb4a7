"""CPU per small Parquet file, for the file shapes a crawl writes: pyarrow's defaults, the writer
options of ``storage.PARQUET_OPTIONS`` written straight to the file, and ``storage.write_parquet``
(those options, encoded in memory first); and the wall time of writing many files from 1, 2
and 4 threads (pyarrow holds the GIL for much of a small write).

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

from screener_crawler.storage import PARQUET_OPTIONS, write_parquet  # noqa: E402

SHAPES = ("income_statements", "financial_ratios", "daily_prices")


def sample(root, dataset):
    return pq.read_table(next((Path(root) / dataset).glob("year=*/month=*/ticker=*.parquet")), partitioning=None)


def cpu_ms_per_file(table, folder, files, write):
    """Least CPU of three rounds of ``files`` writes, in ms per file."""
    rounds = []
    for _ in range(3):
        for i in range(20):
            write(table, folder / "warm.parquet")
        started = time.process_time()
        for i in range(files):
            write(table, folder / f"{i}.parquet")
        rounds.append(1000 * (time.process_time() - started) / files)
    return min(rounds)


def with_options(options):
    return lambda table, path: pq.write_table(table, path, **options)


def threaded_wall(table, folder, files, threads):
    def write(indexes):
        for i in indexes:
            write_parquet(table, folder / f"t{i}.parquet")
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
            default = cpu_ms_per_file(table, folder, args.files, with_options({}))
            chosen = cpu_ms_per_file(table, folder, args.files, with_options(PARQUET_OPTIONS))
            buffered = cpu_ms_per_file(table, folder, args.files, write_parquet)
            print(f"{dataset:18} {table.num_columns:4} columns {table.num_rows:3} rows: "
                  f"default {default:.2f} ms, PARQUET_OPTIONS {chosen:.2f} ms, write_parquet {buffered:.2f} ms per file")
        table = sample(args.root, "daily_prices")
        walls = {n: threaded_wall(table, folder, 5 * args.files, n) for n in (1, 2, 4)}
        print(f"{5 * args.files} price files: " + ", ".join(f"{n} thread(s) {s:.2f} s" for n, s in walls.items()))


if __name__ == "__main__":
    main()
