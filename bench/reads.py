"""Benchmark: the DataLoader's reads on a data root in the v2 layout (one file per partition,
every ticker in it), beside the targets of issue 31 for the full 10,070-ticker universe.

    python bench/reads.py DATA_DIR [--repeat 5] [--cache cold|warm] [--json]

Times, as the median (min, max) of ``--repeat`` runs:
- a month of ``daily_prices`` for all tickers: ``load("daily_prices", start=<1st>, end=<last day>)``
  of the latest full month on disk (its last bar on the month's last trading day; else the month
  before);
- one ticker's whole ``balance_sheets`` history: ``load("balance_sheets", tickers=[T])``, T the
  ticker with the most rows (``--ticker`` to choose);
- ``latest_ratios()``, the screener cross-section of every ticker;
- ``ratios_asof(D)`` for every ticker, D three months before the latest ``filing_date`` of
  ``financial_ratios`` (``--asof`` to choose).

Every run is a fresh ``python`` process: nothing Python keeps (imported modules, open files,
pyarrow's caches) is reused, and only the call is timed (not the interpreter's start or the
imports). ``--cache cold`` (the default) first evicts every file of the data root from the page
cache with ``posix_fadvise(POSIX_FADV_DONTNEED)``, which needs no root; the kernel's directory
and inode caches, and whatever cache lies below the machine (a VM host's), stay warm, so the
figures are between cold and warm. ``--cache warm`` runs each read once unmeasured first.

Beside the wall-clock figures it prints the median CPU seconds of the process, which a busy
machine disturbs less. Also prints the data root's Parquet files and bytes per dataset. ``--json`` prints the figures
as one JSON object instead of the table.
"""

import argparse
import calendar
import json
import os
import statistics
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from screener_crawler.datasets import STORED_DATASETS  # noqa: E402
from screener_crawler.storage.layout import STAGING_DIR, published_partitions  # noqa: E402
from screener_crawler.trading_calendar import trading_days  # noqa: E402

UNIVERSE_TICKERS = 10_070
"""The universe the targets are set for."""
TARGET_SECONDS = {
    "month_of_prices": 0.5,
    "balance_sheets_of_one_ticker": 0.3,
    "latest_ratios": 1.0,
    "ratios_asof": 2.0,
}
ASOF_MONTHS_BEFORE_LATEST_FILING = 3

CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from screener_crawler.data_loader import DataLoader
root, method, arguments = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
started, cpu = time.perf_counter(), time.process_time()
frame = getattr(DataLoader(root), method)(*arguments["args"], **arguments["kwargs"])
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": len(frame), "columns": len(frame.columns)}))
"""


def evict_from_page_cache(root):
    """Ask the kernel to drop the cached pages of every file under ``root``."""
    for directory, _, names in os.walk(root):
        for name in names:
            try:
                descriptor = os.open(os.path.join(directory, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)


def run_once(root, method, args, kwargs):
    """{seconds, cpu_seconds, rows, columns} of one call in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(PROJECT_ROOT), str(root), method,
         json.dumps({"args": args, "kwargs": kwargs})],
        capture_output=True, text=True, cwd=PROJECT_ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{method}{tuple(args)} {kwargs} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(root, method, args, kwargs, repeat, cache):
    if cache == "warm":
        run_once(root, method, args, kwargs)
    runs = []
    for _ in range(repeat):
        if cache == "cold":
            evict_from_page_cache(root)
        runs.append(run_once(root, method, args, kwargs))
    seconds = [run["seconds"] for run in runs]
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "cpu_median": statistics.median(run["cpu_seconds"] for run in runs),
            "rows": runs[-1]["rows"], "columns": runs[-1]["columns"]}


def column_range(path, column):
    """(min, max) of ``column`` in a Parquet file, from its row-group statistics."""
    metadata = pq.read_metadata(path)
    index = metadata.schema.to_arrow_schema().get_field_index(column)
    lows, highs = [], []
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        if stats is not None and stats.has_min_max:
            lows.append(stats.min)
            highs.append(stats.max)
    return (min(lows), max(highs)) if lows else (None, None)


def latest_full_month(root):
    """(first day, last day) of the latest month of ``daily_prices`` whose last bar is on its
    last trading day; the month before the latest when none is."""
    partitions = published_partitions(root, STORED_DATASETS["daily_prices"])
    if not partitions:
        raise SystemExit(f"no daily_prices under {root}")
    keys = sorted(partitions)
    for key in reversed(keys):
        year, month = divmod(key, 100)
        first, last = date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        days = trading_days(first, last)
        _, newest = column_range(partitions[key], "date")
        if days and newest is not None and newest >= days[-1]:
            return first, last
    year, month = divmod(keys[-2] if len(keys) > 1 else keys[-1], 100)
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def ticker_with_most_rows(root, dataset):
    counts = Counter()
    for path in published_partitions(root, STORED_DATASETS[dataset]).values():
        counts.update(pq.read_table(path, columns=["ticker"]).column("ticker").to_pylist())
    if not counts:
        raise SystemExit(f"no {dataset} under {root}")
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]


def asof_date(root):
    """ASOF_MONTHS_BEFORE_LATEST_FILING months before the latest ``filing_date`` of
    ``financial_ratios``."""
    partitions = published_partitions(root, STORED_DATASETS["financial_ratios"])
    if not partitions:
        raise SystemExit(f"no financial_ratios under {root}")
    _, latest = column_range(partitions[max(partitions)], "filing_date")
    return latest - timedelta(days=round(30.4 * ASOF_MONTHS_BEFORE_LATEST_FILING))


def universe_size(root):
    path = Path(root) / "universe" / "universe.parquet"
    return pq.read_metadata(path).num_rows if path.exists() else None


def files_on_disk(root):
    """Dataset -> {files, bytes} of its Parquet files; the staging area's files too when any."""
    found = {}
    for name in [*STORED_DATASETS, STAGING_DIR]:
        folder = Path(root) / name
        paths = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
        if name != STAGING_DIR:
            paths = [p for p in paths if p.suffix == ".parquet"]
        if paths or name != STAGING_DIR:
            found[name] = {"files": len(paths), "bytes": sum(p.stat().st_size for p in paths)}
    return found


def reads(root, ticker, asof):
    """Name -> (label, method, args, kwargs) of each measured read."""
    first, last = latest_full_month(root)
    ticker = ticker or ticker_with_most_rows(root, "balance_sheets")
    asof = asof or asof_date(root).isoformat()
    return {
        "month_of_prices": (f"daily_prices {first:%Y-%m}, all tickers", "load", ["daily_prices"],
                            {"start": first.isoformat(), "end": last.isoformat()}),
        "balance_sheets_of_one_ticker": (f"balance_sheets of {ticker}, whole history", "load",
                                         ["balance_sheets"], {"tickers": [ticker]}),
        "latest_ratios": ("latest_ratios(), all tickers", "latest_ratios", [], {}),
        "ratios_asof": (f"ratios_asof({asof}), all tickers", "ratios_asof", [asof], {}),
    }


def call_text(method, args, kwargs):
    """``load("daily_prices", start="2025-10-01")``: the call as a user writes it."""
    written = [json.dumps(value) for value in args] + [f"{key}={json.dumps(value)}" for key, value in kwargs.items()]
    return f"DataLoader(root).{method}({', '.join(written)})"


def table(result):
    lines = [f"data root: {result['root']}  ({result['universe_tickers'] or '?'} tickers in the universe; "
             f"targets are for {UNIVERSE_TICKERS:,})",
             f"each run: a fresh python process, the call alone timed; cache: {result['cache_note']}",
             f"seconds: median, min, max of {result['repeat']} runs (wall clock); cpu: median CPU seconds "
             "of the process (less sensitive to a busy machine)", ""]
    header = (f"{'read':<44} {'median':>7} {'min':>7} {'max':>7} {'target':>7}  {'':<4} {'cpu':>7} "
              f"{'rows':>9}")
    lines += [header, "-" * len(header)]
    for name, figure in result["reads"].items():
        verdict = "ok" if figure["median"] <= figure["target"] else "OVER"
        lines.append(f"{figure['label']:<44} {figure['median']:>7.3f} {figure['min']:>7.3f} {figure['max']:>7.3f} "
                     f"{'<= ' + str(figure['target']):>7}  {verdict:<4} {figure['cpu_median']:>7.3f} "
                     f"{figure['rows']:>9,}")
    lines += ["", f"{'dataset':<26} {'files':>7} {'MB':>10}", "-" * 45]
    for name, on_disk in result["files"].items():
        lines.append(f"{name:<26} {on_disk['files']:>7,} {on_disk['bytes'] / 1e6:>10.1f}")
    total_files = sum(on_disk["files"] for on_disk in result["files"].values())
    total_bytes = sum(on_disk["bytes"] for on_disk in result["files"].values())
    lines.append(f"{'total':<26} {total_files:>7,} {total_bytes / 1e6:>10.1f}")
    return "\n".join(lines)


CACHE_NOTES = {
    "cold": "page cache of the root's files evicted before each run (posix_fadvise DONTNEED; "
            "directory/inode caches and any host cache stay warm)",
    "warm": "warm (one unmeasured run first)",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", metavar="DATA_DIR", type=Path)
    parser.add_argument("--repeat", type=int, default=5, metavar="N", help="runs per read (default 5)")
    parser.add_argument("--cache", choices=("cold", "warm"), default="cold",
                        help="cold: evict the root's files from the page cache before each run (default); "
                             "warm: one unmeasured run first")
    parser.add_argument("--ticker", help="the ticker of the balance_sheets read (default: the one with most rows)")
    parser.add_argument("--asof", help=f"the date of ratios_asof (default: {ASOF_MONTHS_BEFORE_LATEST_FILING} "
                                       "months before the latest filing)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = parser.parse_args()
    root = args.root.resolve()
    if not root.is_dir():
        parser.error(f"{root} is not a directory")

    figures = {}
    for name, (label, method, call_args, kwargs) in reads(root, args.ticker, args.asof).items():
        figure = measure(root, method, call_args, kwargs, args.repeat, args.cache)
        figures[name] = {"label": label, "call": call_text(method, call_args, kwargs),
                         **{k: round(v, 4) if isinstance(v, float) else v for k, v in figure.items()},
                         "target": TARGET_SECONDS[name]}
    result = {"root": str(root), "universe_tickers": universe_size(root), "repeat": args.repeat,
              "cache": args.cache, "cache_note": CACHE_NOTES[args.cache], "reads": figures,
              "files": files_on_disk(root)}
    print(json.dumps(result, indent=1) if args.json else table(result))


if __name__ == "__main__":
    main()
