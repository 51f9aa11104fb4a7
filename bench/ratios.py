"""The ratio pass on a crawl's data, chunk sizes side by side: wall and CPU seconds and peak RSS
of computing and staging the ratios of ``--tickers`` tickers in chunks of each size, each size in
a fresh process that allocates Arrow memory from the crawl's pool (``ARROW_MEMORY_POOL``). What it
stages is removed, unpublished: the data root is left as it was.

    python bench/ratios.py DATA_DIR [--tickers 1000] [--chunks 100,150,300]
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ONE_SIZE = """
import json, resource, sys, time
import screener_crawler  # before pyarrow, as in the crawl: Arrow's C++ default pool
import pyarrow.parquet as pq
from screener_crawler import settings
from screener_crawler.extensions.arrow_memory_pool import use_pool
use_pool(settings.ARROW_MEMORY_POOL)
from screener_crawler.ratios.ratio_pass import RatioPass
from screener_crawler.storage.staging import StagingArea
root, limit, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tickers = sorted(set(pq.read_table(f"{root}/universe/universe.parquet", columns=["ticker"]).column(0).to_pylist()))[:limit]
area = StagingArea(root)
before = {staged.path for staged in area.files()}
started, cpu = time.perf_counter(), time.process_time()
ratio_pass = RatioPass(root, tickers, chunk)
rows = sum(sum(ratio_pass.stage_chunk(part).rows.values()) for part in ratio_pass.chunks())
figures = {"chunk_tickers": chunk, "tickers": len(tickers), "rows": rows,
           "wall_seconds": round(time.perf_counter() - started, 1), "cpu_seconds": round(time.process_time() - cpu, 1),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
area.remove([staged for staged in area.files() if staged.path not in before])
print(json.dumps(figures))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--tickers", type=int, default=1000)
    parser.add_argument("--chunks", default="100,150,300", help="chunk sizes (SCREENER_RATIO_CHUNK_TICKERS) to compare")
    args = parser.parse_args()
    print(f"{'chunk':>6} {'tickers':>8} {'rows':>10} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12}")
    for chunk in args.chunks.split(","):
        done = subprocess.run([sys.executable, "-c", ONE_SIZE, str(args.data_dir), str(args.tickers), chunk],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{figures['chunk_tickers']:>6} {figures['tickers']:>8} {figures['rows']:>10,} {figures['wall_seconds']:>8} "
              f"{figures['cpu_seconds']:>8} {figures['peak_rss_mb']:>12}")


if __name__ == "__main__":
    main()
