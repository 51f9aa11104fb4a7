"""``python bench/qlib_export.py DATA_DIR [--out DIR]``: export a data root to Qlib's format
(``scrapy export-qlib``'s work, with its settings) and print the wall time, the peak memory of
this process and of its largest worker, and the files and bytes written. A second run into the
same directory shows what a re-export without new data costs. ``--first-tickers N`` exports a part
of the universe, ``--profile`` says where the time went."""

import argparse
import cProfile
import json
import pstats
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler import settings  # noqa: E402
from screener_crawler.data_loader import DataLoader  # noqa: E402
from screener_crawler.exports.qlib_export import export_qlib  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir")
    parser.add_argument("--out", default="/work/scratch/qlib_out/full")
    parser.add_argument("--workers", type=int, default=settings.QLIB_EXPORT_WORKERS)
    parser.add_argument("--batch-tickers", type=int, default=settings.QLIB_EXPORT_BATCH_TICKERS)
    parser.add_argument("--first-tickers", type=int, metavar="N", help="export only the universe's first N tickers")
    parser.add_argument("--profile", action="store_true",
                        help="print where the time went (cProfile, cumulative; meaningful with --workers 1)")
    options = parser.parse_args()
    tickers = None
    if options.first_tickers:
        universe = DataLoader(options.data_dir).load_table("universe", columns=["ticker"]).column("ticker")
        tickers = sorted(set(universe.to_pylist()))[:options.first_tickers]
    profiler = cProfile.Profile() if options.profile else None
    started = time.monotonic()
    if profiler:
        profiler.enable()
    summary = export_qlib(options.data_dir, options.out, tickers=tickers, batch_tickers=options.batch_tickers,
                          workers=options.workers, progress=lambda message: print(message, file=sys.stderr))
    wall = time.monotonic() - started
    if profiler:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(20)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"wall_seconds": round(wall, 1), "peak_rss_mb": round(own), "peak_worker_rss_mb": round(workers),
                      "tickers": summary.tickers, "tickers_written": summary.tickers_written,
                      "files_written": summary.files, "bytes_written": summary.bytes,
                      "calendar_days": summary.calendar_days}))


if __name__ == "__main__":
    main()
