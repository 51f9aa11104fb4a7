"""Benchmark: a full ``scrapy crawl screener`` against the sandbox running in its own process.

    python bench/screener_crawl.py --universe-size 1000 --latency-ms 20 --cap 100

Prints, and writes as JSON (``--output``): wall time, API requests (total and per ticker),
requests/s achieved and as a fraction of the cap, 429s, retries, the crawler's peak RSS and CPU
seconds, rows per dataset, whether ``scrapy status`` is clean, and how many requests a second
run of the same command sends (it should be none).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from screener_crawler.datasets import DATASETS  # noqa: E402
from screener_crawler.sandbox import SANDBOX_API_KEY, SANDBOX_BASIC_KEY, SandboxProcess  # noqa: E402


def stat(log, name):
    match = re.search(rf"^ '{re.escape(name)}': (\d+)", log, re.MULTILINE)
    return int(match.group(1)) if match else 0


def crawl(url, key, data_dir, settings):
    """Run the crawl as a user would; (wall seconds, rusage of the crawler, its log)."""
    command = [sys.executable, "-m", "scrapy", "crawl", "screener"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYGON_", "SCREENER_"))}
    env.update(POLYGON_BASE_URL=url, POLYGON_API_KEY=key, SCREENER_DATA_DIR=str(data_dir))
    with tempfile.TemporaryFile("w+") as log:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read()
    if process.returncode != 0:
        sys.exit(f"crawl failed ({process.returncode}):\n{text[-3000:]}")
    return wall, usage, text


def rows_per_dataset(data_dir):
    rows = {}
    for name in DATASETS:
        path = data_dir / name
        rows[name] = ds.dataset(path, partitioning="hive").count_rows() if path.exists() else 0
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--universe-size", type=int, default=10070)
    parser.add_argument("--delisted", type=int, default=0, help="delisted tickers in the sandbox (default 0)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="sandbox latency per response")
    parser.add_argument("--sandbox-rate-limit", type=float, default=0.0, help="sandbox answers 429 above this")
    parser.add_argument("--cap", type=float, default=100.0, help="POLYGON_RATE_LIMIT of the crawl (0 = none)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--plan", choices=("v1", "basic"), default="v1")
    parser.add_argument("--prices-start", default="2009-01-01")
    parser.add_argument("--data-dir", type=Path, help="default: a fresh temporary folder")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "bench" / "results" / "screener_crawl.json")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="screener-bench-"))
    key = SANDBOX_API_KEY if args.plan == "v1" else SANDBOX_BASIC_KEY
    settings = {"POLYGON_RATE_LIMIT": args.cap, "CONCURRENT_REQUESTS": args.concurrency,
                "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency, "PRICES_START": args.prices_start}
    with SandboxProcess(universe_size=args.universe_size, delisted=args.delisted, latency_ms=args.latency_ms,
                        rate_limit=args.sandbox_rate_limit) as sandbox:
        wall, usage, log = crawl(sandbox.url, key, data_dir, settings)
        _, _, second_log = crawl(sandbox.url, key, data_dir, settings)
    status = subprocess.run([sys.executable, "-m", "scrapy", "status", "--data-dir", str(data_dir), "--json"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True)

    tickers = args.universe_size + args.delisted
    requests = stat(log, "downloader/request_count")
    result = {
        "universe": tickers, "plan": args.plan, "latency_ms": args.latency_ms, "cap": args.cap,
        "concurrency": args.concurrency, "prices_start": args.prices_start,
        "wall_seconds": round(wall, 1),
        "api_requests": requests,
        "requests_per_ticker": round(requests / tickers, 2),
        "requests_per_second": round(requests / wall, 1),
        "fraction_of_cap": round(requests / wall / args.cap, 2) if args.cap else None,
        "target_wall_seconds_at_cap": round(1.1 * requests / args.cap, 1) if args.cap else None,
        "http_429": stat(log, "downloader/response_status_count/429"),
        "retries": stat(log, "retry/count"),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "units_failed": sum(stat(log, f"units/failed/{d}") for d in DATASETS),
        "rows": rows_per_dataset(data_dir),
        "status_ok": status.returncode == 0,
        "second_run_requests": stat(second_log, "downloader/request_count"),
        "data_dir": str(data_dir),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value}")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
