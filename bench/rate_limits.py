"""Rate limits as the server sees them: the two checks of issue 5, with figures.

    python bench/rate_limits.py --rate 6

1. A sandbox that answers 429 above ``--rate`` requests/s, and a crawl capped at the same rate:
   prints the busiest 5-second and 1-second windows the server saw, its 429s, and whether every
   unit was written.
2. A sandbox that answers every request with 429 and ``Retry-After: 3`` for its first 10 seconds:
   prints the 429s, how many requests arrived between 0.25 s and 3 s after one (requests
   already on the wire when the 429 left are the 0.25 s), and whether every unit was written.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from screener_crawler.connection import CRAWL_STATS_FILE  # noqa: E402
from screener_crawler.sandbox import SandboxProcess  # noqa: E402

KEY = "rate-limits-bench-key"
UNIVERSE = {"universe_size": 40, "delisted": 4}


def crawl(url, data_dir, spider, arguments, settings):
    command = [sys.executable, "-m", "scrapy", "crawl", spider]
    for name, value in arguments.items():
        command += ["-a", f"{name}={value}"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYGON_", "SCREENER_"))}
    env.update(POLYGON_BASE_URL=url, POLYGON_API_KEY=KEY, SCREENER_DATA_DIR=str(data_dir))
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    stats_file = Path(data_dir) / CRAWL_STATS_FILE
    stats = json.loads(stats_file.read_text())["stats"] if stats_file.exists() else {}
    failed = sum(count for name, count in stats.items() if name.startswith("units/failed/"))
    return result.returncode == 0 and stats.get("finish_reason") == "finished" and failed == 0


def served(log_path):
    """(arrival time, outcome) of every request the sandbox answered, in order."""
    lines = Path(log_path).read_text().splitlines()
    return sorted((float(at), outcome) for at, outcome, _ in (line.split(" ", 2) for line in lines))


def busiest(times, seconds):
    return max(sum(1 for t in times if start <= t < start + seconds) for start in times)


def capped_against_a_refusing_server(rate, work):
    log = work / "capped.log"
    with SandboxProcess(keys=[KEY], rate_limit=rate, request_log=str(log), **UNIVERSE) as sandbox:
        complete = crawl(sandbox.url, work / "capped", "screener",
                         {"tickers": "AAPL,MSFT,GOOGL", "datasets": "balance_sheets,income_statements,cash_flow"},
                         {"POLYGON_RATE_LIMIT": rate, "POLYGON_PAGE_SIZE": 10, "PRICES_START": "2024-06-01"})
    requests = served(log)
    times = [at for at, _ in requests]
    print(f"1. cap {rate}/s against a server refusing above {rate}/s")
    print(f"   requests {len(times)} over {times[-1] - times[0]:.1f} s; busiest 5-s window {busiest(times, 5)} "
          f"(limit {5 * rate}); busiest 1-s window {busiest(times, 1)}; "
          f"429s {sum(1 for _, outcome in requests if outcome == '429')}; every unit written: {complete}")


def retry_after_three_seconds(work):
    log = work / "throttled.log"
    with SandboxProcess(keys=[KEY], throttle_seconds=10, retry_after=3, request_log=str(log), **UNIVERSE) as sandbox:
        complete = crawl(sandbox.url, work / "throttled", "related_tickers", {},
                         {"POLYGON_RATE_LIMIT": 0, "BACKOFF_LOWER_RATE_AFTER": 5})
    requests = served(log)
    refusals = [at for at, outcome in requests if outcome == "429"]
    early = sum(1 for refused in refusals for at, _ in requests if refused + 0.25 < at < refused + 3)
    gaps = [next((at - refused for at, _ in requests if at > refused + 0.25), None) for refused in refusals]
    gaps = [gap for gap in gaps if gap is not None]
    print("2. a server answering 429 with Retry-After: 3 for its first 10 s")
    print(f"   requests {len(requests)}; 429s {len(refusals)} over {refusals[-1] - requests[0][0]:.1f} s; "
          f"requests 0.25-3 s after a 429: {early}; shortest wait after a 429: {min(gaps):.2f} s; "
          f"every unit written: {complete}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rate-limits-") as work:
        capped_against_a_refusing_server(args.rate, Path(work))
        retry_after_three_seconds(Path(work))


if __name__ == "__main__":
    main()
