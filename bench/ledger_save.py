"""Reactor time of one download-ledger save at full size: ``Ledger.summarise`` and
``Ledger.save`` for a ledger of every dataset of 10,070 tickers (the pipeline saves it on the
reactor thread every ``SCREENER_LEDGER_SAVE_INTERVAL`` seconds), and the memory the ledger's
units take (Python's allocations while they are marked done, ``tracemalloc``; the crawl holds
them to its end).

    python bench/ledger_save.py [--tickers 10070]
"""

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler.datasets import DATASETS  # noqa: E402
from screener_crawler.ledger import Ledger  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=10070)
    args = parser.parse_args()
    tickers = [f"T{number:05d}" for number in range(args.tickers)]
    datasets = [name for name, dataset in DATASETS.items() if dataset.per_ticker]
    with tempfile.TemporaryDirectory() as scratch:
        ledger = Ledger(Path(scratch, "download_progress.json"))
        tracemalloc.start()
        for dataset in datasets:
            for number, ticker in enumerate(tickers):
                ledger.mark_done(dataset, ticker, number % 5000)
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        print(f"units done: {len(tickers) * len(datasets):,}, held in memory {held / 1e6:.1f} MB")
        for round_ in range(3):
            started = time.perf_counter()
            ledger.summarise(tickers, datasets, workers=16)
            summarised = time.perf_counter()
            ledger.save()
            saved = time.perf_counter()
            size = Path(scratch, "download_progress.json").stat().st_size
            print(f"{len(tickers):,} tickers x {len(datasets)} datasets ({size / 1e6:.1f} MB): "
                  f"summarise {1000 * (summarised - started):.1f} ms, save {1000 * (saved - summarised):.1f} ms")


if __name__ == "__main__":
    main()
