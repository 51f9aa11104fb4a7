"""Memory and time of one publish at full size: the last ``--months`` months of a crawl's
``daily_prices`` staged month by month, as the grouped-daily lanes stage them (each file
replaces every ticker of its month), then published into an empty data root. Prints the
publish's wall seconds and the process's RSS before, at its peak during (sampled every 50 ms)
and after the publish, with Arrow allocating from the pool the crawl uses (``ARROW_MEMORY_POOL``).

    python bench/publish_memory.py DATA_DIR [--months 100]
"""

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from screener_crawler import settings as project_settings  # noqa: E402
from screener_crawler.datasets import DATASETS  # noqa: E402
from screener_crawler.extensions.arrow_memory_pool import POOLS  # noqa: E402
from screener_crawler.storage.layout import published_partitions  # noqa: E402
from screener_crawler.storage.publishing import publish  # noqa: E402
from screener_crawler.storage.staging import StagingArea  # noqa: E402


def rss_mb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="a crawl's data root (its published daily_prices are read)")
    parser.add_argument("--months", type=int, default=100)
    args = parser.parse_args()
    pa.set_memory_pool(POOLS[project_settings.ARROW_MEMORY_POOL]())
    prices = DATASETS["daily_prices"]
    months = list(published_partitions(args.data_dir, prices).items())[-args.months:]
    with tempfile.TemporaryDirectory(dir=args.data_dir.parent) as scratch:
        area = StagingArea(scratch)
        rows = 0
        for month, path in months:
            table = pq.read_table(path, schema=prices.schema)
            area.stage(prices, table, table.column("ticker").unique().to_pylist(), scope=month)
            rows += table.num_rows
            del table
        peak, done = [0], threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb())
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        before, started = rss_mb(), time.perf_counter()
        sampler.start()
        publish(scratch)
        done.set()
        sampler.join()
        seconds = time.perf_counter() - started
        print(f"{len(months)} months, {rows:,} rows of daily_prices, Arrow pool {pa.default_memory_pool().backend_name}: "
              f"publish {seconds:.1f} s; RSS {before} MB before, {peak[0]} MB at the peak, {rss_mb()} MB after")


if __name__ == "__main__":
    main()
