"""Benchmark: ``scrapy crawl screener -a update=1`` after a full crawl, one and five trading
days later, against the sandbox in its own process.

    python bench/update.py --data-dir /tmp/full --universe-size 10070 --days 1 5

A data root without watermarks (or a new one) first gets a full crawl as of the sandbox's
default day (uncapped unless ``--full-cap``). Each update then runs on a copy of it, against a
sandbox as of that many trading days later, capped at ``--cap`` requests/s, and prints: wall
seconds (publish and ratios included), requests (and as a share of the full crawl's), peak RSS,
the crawl's and the sandbox's CPU seconds (the sandbox generates its market-wide answers on the
same cores, which a remote API would not),
rows upserted per dataset, tickers whose ratios were recomputed, Parquet files rewritten and
kept. Targets of issue 34: at most 1 % of a full download's requests for one and five days, and
at most 60 s for one day at 100 requests/s.
"""

import argparse
import json
import shutil
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bench.screener_crawl import crawl, process_cpu_seconds  # noqa: E402
from screener_crawler.connection import CRAWL_STATS_FILE  # noqa: E402
from screener_crawler.sandbox import SANDBOX_API_KEY, SandboxProcess  # noqa: E402
from screener_crawler.sandbox.market import DEFAULT_AS_OF  # noqa: E402
from screener_crawler.trading_calendar import trading_days  # noqa: E402


def watermarks(data_dir):
    path = Path(data_dir) / "download_progress.json"
    return json.loads(path.read_text()).get("watermarks", {}) if path.exists() else {}


def sessions_after(day, count):
    return trading_days(day + timedelta(days=1), day + timedelta(days=3 * count + 10))[count - 1]


def file_times(data_dir):
    return {path.relative_to(data_dir): path.stat().st_mtime_ns for path in Path(data_dir).rglob("*.parquet")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="the full crawl's data root (made if absent)")
    parser.add_argument("--universe-size", type=int, default=10070)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--cap", type=float, default=100.0, help="POLYGON_RATE_LIMIT of the updates")
    parser.add_argument("--full-cap", type=float, default=0.0, help="POLYGON_RATE_LIMIT of the full crawl")
    parser.add_argument("--days", type=int, nargs="+", default=[1, 5], help="trading days after the full crawl")
    parser.add_argument("--keep", action="store_true", help="keep the updated copies")
    args = parser.parse_args()
    sandbox_options = dict(universe_size=args.universe_size, delisted=0, latency_ms=args.latency_ms)

    if not watermarks(args.data_dir):
        print(f"full crawl as of {DEFAULT_AS_OF} into {args.data_dir} ...", flush=True)
        with SandboxProcess(as_of=DEFAULT_AS_OF, **sandbox_options) as sandbox:
            wall, usage, _, stats = crawl(sandbox.url, SANDBOX_API_KEY, args.data_dir,
                                          {"POLYGON_RATE_LIMIT": args.full_cap})
        print(f"full crawl: {wall:.1f} s, {stats.get('downloader/request_count')} requests", flush=True)
    full_requests = json.loads((args.data_dir / CRAWL_STATS_FILE).read_text())["stats"].get("downloader/request_count")
    since = date.fromisoformat(min(watermarks(args.data_dir).values()))

    for days in args.days:
        as_of = sessions_after(since, days)
        copy = args.data_dir.with_name(f"{args.data_dir.name}-update-{days}d")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(args.data_dir, copy)
        before = file_times(copy)
        with SandboxProcess(as_of=as_of, **sandbox_options) as sandbox:
            sandbox_cpu = process_cpu_seconds(sandbox.proc.pid)
            wall, usage, log, stats = crawl(sandbox.url, SANDBOX_API_KEY, copy, {"POLYGON_RATE_LIMIT": args.cap},
                                            arguments=(("update", "1"),))
            sandbox_cpu = process_cpu_seconds(sandbox.proc.pid) - sandbox_cpu
        after = file_times(copy)
        requests = stats.get("downloader/request_count", 0)
        figures = {
            "days": days, "as_of": as_of.isoformat(), "finish_reason": stats.get("finish_reason"),
            "wall_seconds": round(wall, 1), "requests": requests,
            "share_of_full_crawl_pct": round(100 * requests / full_requests, 2) if full_requests else None,
            "full_crawl_requests (its last run's)": full_requests, "peak_rss_mb": usage["peak_rss_mb"],
            "cpu_seconds": round(usage["cpu_seconds"], 1),
            "sandbox_cpu_seconds": round(sandbox_cpu, 1),
            "tickers_renamed": stats.get("update/tickers_renamed", 0),
            "upserted_rows": {k.removeprefix("staging/upserted_rows/"): v for k, v in stats.items()
                              if k.startswith("staging/upserted_rows/")},
            "new_ticker_units": {k.removeprefix("ledger/done/"): v for k, v in stats.items()
                                 if k.startswith("ledger/done/") and k != "ledger/done/financial_ratios"},
            "ratio_tickers_recomputed": stats.get("ledger/done/financial_ratios", 0),
            "ratio_pass_seconds": stats.get("financial_ratios/seconds"),
            "files_rewritten": sum(1 for path, mtime in before.items() if after.get(path) != mtime),
            "files_rewritten_by_dataset": dict(Counter(path.parts[0] for path, mtime in before.items()
                                                       if after.get(path) != mtime)),
            "files_kept": sum(1 for path, mtime in before.items() if after.get(path) == mtime),
            "files_new": sum(1 for path in after if path not in before),
            "units_failed": sum(v for k, v in stats.items() if k.startswith("units/failed/")),
        }
        print(json.dumps(figures, indent=1), flush=True)
        if not args.keep:
            shutil.rmtree(copy)


if __name__ == "__main__":
    main()
