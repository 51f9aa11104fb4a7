"""Benchmark: a full ``scrapy crawl screener`` against the sandbox running in its own process,
side by side with the baseline a user would otherwise write (``bench/baseline_client.py``).

    python bench/screener_crawl.py --universe-size 1000 --latency-ms 20 --cap 100

Prints, and writes as JSON (``--output``): wall time, API requests (total and per ticker),
requests/s achieved and as a fraction of the cap, 429s, retries, the crawler's peak RSS (summed
over the crawl and anything it starts) and CPU seconds, rows per dataset, Parquet files and bytes
on disk, the seconds of the ratio pass, whether ``scrapy status`` is clean, and how many requests
a second run of the same command sends (it should be none). Beside the JSON: the crawl's log
(``.log``) and its summed RSS twice a second (``.rss.tsv``: seconds since the start, MB).
``--busy-cores N`` keeps N cores busy with spinning processes during the crawl, and
``--busy-disk N`` keeps N processes writing to the data root's disk, as on a machine shared
with other work.
Then the same figures for the baseline (the official client, 8 threads, pandas;
``--no-baseline`` skips it), run against a fresh sandbox
with the same options, and the ratio of the two wall times. The baseline has no rate limiter
of its own: it meets the cap as the API's 429s, so its sandbox rate limit is ``--cap`` unless
``--sandbox-rate-limit`` is given. Its Parquet files (as many as the crawler's, tens of GB for
the full universe) are removed afterwards unless ``--keep-baseline-data``.

The baseline at 10,070 tickers runs for hours, so the two can be measured one at a time:
``--no-baseline`` for the crawl, then ``--crawl-result <its JSON>`` to run only the baseline
(with the crawl's options, checked) and print both side by side; ``--baseline-sample N`` lets
the baseline download N tickers and extrapolates its wall time.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from screener_crawler.connection import CRAWL_STATS_FILE  # noqa: E402
from screener_crawler.sandbox import SANDBOX_API_KEY, SANDBOX_BASIC_KEY, SandboxProcess  # noqa: E402
from screener_crawler.sandbox.market import DEFAULT_AS_OF  # noqa: E402


def crawl_stats(data_dir):
    """Every stat of the crawl that wrote in ``data_dir`` (the ledger and its stats are there)."""
    path = Path(data_dir) / CRAWL_STATS_FILE
    return json.loads(path.read_text())["stats"] if path.exists() else {}


def units_failed(stats):
    return sum(count for name, count in stats.items() if name.startswith("units/failed/"))


class TreeMemory:
    """Samples, twice a second, the summed RSS of a process and its descendants (the crawl and
    anything it starts); ``stop()`` gives the peak in MB. ``ru_maxrss`` would give only the
    largest single process. ``samples``: (seconds since the start, MB) of every sample."""

    def __init__(self, pid):
        self._pid, self._peak, self._running = pid, 0, True
        self._started = time.monotonic()
        self.samples = []
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        page = os.sysconf("SC_PAGE_SIZE")
        while self._running:
            parents, rss = {}, {}
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    try:
                        fields = open(f"/proc/{entry.name}/stat").read().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    parents[int(entry.name)], rss[int(entry.name)] = int(fields[1]), int(fields[21]) * page
            tree, grew = {self._pid}, True
            while grew:
                grown = tree | {pid for pid, parent in parents.items() if parent in tree}
                grew, tree = grown != tree, grown
            summed = sum(rss.get(pid, 0) for pid in tree)
            self._peak = max(self._peak, summed)
            self.samples.append((round(time.monotonic() - self._started, 1), round(summed / 2**20)))
            time.sleep(0.5)

    def stop(self):
        self._running = False
        self._thread.join()
        return round(self._peak / 2**20)


def crawl(url, key, data_dir, settings, stop_after=None, arguments=()):
    """Run the crawl as a user would (``scrapy crawl screener``, ``-a`` ``arguments`` and ``-s``
    ``settings``); (wall seconds, its CPU seconds and peak RSS, its log, its stats).
    With ``stop_after`` seconds, the crawl is sent one SIGINT then, as a user's Ctrl-C: it
    finishes what is in flight and stops."""
    command = [sys.executable, "-m", "scrapy", "crawl", "screener"]
    for name, value in arguments:
        command += ["-a", f"{name}={value}"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYGON_", "SCREENER_"))}
    env.update(POLYGON_BASE_URL=url, POLYGON_API_KEY=key, SCREENER_DATA_DIR=str(data_dir))
    with tempfile.TemporaryFile("w+") as log:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        sampler = TreeMemory(process.pid)
        stopper = threading.Timer(stop_after, process.send_signal, (signal.SIGINT,)) if stop_after else None
        if stopper:
            stopper.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        if stopper:
            stopper.cancel()
        usage = {"cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mb": sampler.stop(),
                 "rss_samples": sampler.samples}
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read()
    if process.returncode != 0:
        sys.exit(f"crawl failed ({process.returncode}):\n{text[-3000:]}")
    return wall, usage, text, crawl_stats(data_dir)


def baseline(url, key, data_dir, prices_start, prices_end, sample):
    """Run bench/baseline_client.py; (wall seconds, its CPU seconds and peak RSS, its JSON summary)."""
    command = [sys.executable, str(PROJECT_ROOT / "bench" / "baseline_client.py"), "--base-url", url,
               "--api-key", key, "--data-dir", str(data_dir), "--prices-start", prices_start,
               "--prices-end", prices_end, "--sample", str(sample)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=out, stderr=err)
        sampler = TreeMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        usage = {"cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mb": sampler.stop()}
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"baseline failed ({os.waitstatus_to_exitcode(status)}):\n{errors[-3000:]}")
    return wall, usage, json.loads(text.strip().splitlines()[-1])


def figures(wall, usage, requests, tickers, cap):
    """What both sides report alike."""
    return {
        "wall_seconds": round(wall, 1),
        "api_requests": requests,
        "requests_per_ticker": round(requests / tickers, 2),
        "requests_per_second": round(requests / wall, 1),
        "fraction_of_cap": round(requests / wall / cap, 2) if cap else None,
        "peak_rss_mb": usage["peak_rss_mb"],
        "cpu_seconds": round(usage["cpu_seconds"], 1),
    }


def print_table(result):
    """One line per figure; with a baseline, its value beside the crawler's."""
    other = result.get("baseline", {})
    names = list(dict.fromkeys([*result, *other]))
    lines = [(name, result.get(name, ""), other.get(name, "")) for name in names
             if name != "baseline" and not isinstance(result.get(name, other.get(name)), dict)]
    for group in ("rows", "status_done_pct", "units_complete_by_dataset"):
        mine, theirs = result.get(group) or {}, other.get(group) or {}
        lines += [(f"{group}/{name}", mine.get(name, ""), theirs.get(name, "")) for name in dict.fromkeys([*mine, *theirs])]
    width = max(len(name) for name, _, _ in lines)
    if other:
        print(f"{'':<{width}}  {'crawler':>12}  {'baseline':>12}")
    for name, value, baseline_value in lines:
        print(f"{name:<{width}}  {value!s:>12}  {baseline_value!s:>12}".rstrip())


def stopped_figures(log, stats, wall, stop_after):
    """How far a crawl stopped by ``--stop-after`` got, and its whole wall time extrapolated
    from the units it completed. That is a rough figure: units do not all cost the same, and
    when the grouped daily prices are used (more tickers than market days), every ticker's
    prices complete with the last month and only then are its ratios computed, so a crawl
    stopped early has done the cheap units first."""
    by_dataset = {name.removeprefix("units/complete/"): units for name, units in stats.items()
                  if name.startswith("units/complete/")}
    complete = sum(by_dataset.values())
    planned = stats.get("units/planned", 0)
    tickers = re.findall(r"tickers complete ([\d,]+)/", log)
    etas = re.findall(r"ETA (\S+)$", log, re.MULTILINE)
    return {
        "stopped_after_seconds": stop_after,
        "finish_reason": stats.get("finish_reason"),
        "requests_per_ticker": None,
        "units_complete": complete,
        "units_complete_by_dataset": by_dataset,
        "units_planned": planned,
        "units_complete_pct": round(100 * complete / planned, 1) if planned else None,
        "tickers_complete": int(tickers[-1].replace(",", "")) if tickers else None,
        "wall_seconds_extrapolated_from_units": round(wall * planned / complete, 1) if complete else None,
        "eta_at_last_progress_line": etas[-1] if etas else None,
    }


def rows_per_dataset(stats):
    """Rows the crawl staged per dataset, from its stats (a fresh data root holds exactly these)."""
    staged = {name.removeprefix("staging/rows/"): rows for name, rows in stats.items()
              if name.startswith("staging/rows/")}
    ratios = stats.get("financial_ratios/rows", 0)
    return {**staged, **({"financial_ratios": ratios} if ratios else {})}


def files_on_disk(data_dir):
    """(Parquet files, their bytes) under the data root."""
    paths = list(Path(data_dir).rglob("*.parquet"))
    return len(paths), sum(path.stat().st_size for path in paths)


def status_figures(report_json):
    """What ``scrapy status --json`` says of each dataset: ledger completion (%) and files whose
    schema differs from the declared one; and how many files it had to open (footers read)."""
    try:
        report = json.loads(report_json)
        datasets = report["datasets"]
    except (ValueError, KeyError):
        return {"status_done_pct": None, "status_schema_mismatches": None, "status_footers_read": None}
    return {"status_done_pct": {name: report["completion"]["done_pct"] for name, report in datasets.items()
                                if report.get("completion")},
            "status_schema_mismatches": sum(len(report["schema_mismatches"]) for report in datasets.values()),
            "status_footers_read": report.get("files_checked", {}).get("footers_read")}


def cross_section(data_dir):
    """(seconds, rows) of ``DataLoader.latest_ratios()``, the screener cross-section of every
    ticker, timed in a fresh process (imports not counted)."""
    code = ("import sys, time; from screener_crawler.data_loader import DataLoader; t = time.perf_counter(); "
            "rows = len(DataLoader(sys.argv[1]).latest_ratios()); print(time.perf_counter() - t, rows)")
    done = subprocess.run([sys.executable, "-c", code, str(data_dir)], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, check=True)
    seconds, rows = done.stdout.split()
    return round(float(seconds), 2), int(rows)


def kept_answers(store):
    """Answers in the sandbox's response store (None: the sandbox generates every answer)."""
    return None if store is None else sum(1 for _ in Path(store).rglob("*.json"))


def process_cpu_seconds(pid):
    """User and system CPU seconds ``pid`` has used so far: the sandbox serves every request in
    one process (threads under one GIL), so its CPU is a floor under the crawl's wall time."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_options(args):
    """The options a crawl's figures depend on; a baseline compared with them must share them."""
    return {"universe": args.universe_size + args.delisted, "plan": args.plan, "latency_ms": args.latency_ms,
            "cap": args.cap, "concurrency": args.concurrency, "prices_start": args.prices_start,
            "prices_end": args.prices_end}


def pressure_stalled_seconds(resource):
    """Seconds so far in which some task of the machine waited for ``resource`` (``cpu`` or
    ``io``; Linux's pressure stall information), or None where the kernel does not say."""
    try:
        some = open(f"/proc/pressure/{resource}").readline().split()
    except OSError:
        return None
    return int(some[-1].split("=")[1]) / 1e6


DISK_WRITER = """
import os, sys
block, path = b"\\0" * (1 << 20), os.path.join(sys.argv[1], f".busy-disk-{os.getpid()}")
while True:
    with open(path, "wb") as file:
        for _ in range(64):
            file.write(block)
        file.flush()
        os.fsync(file.fileno())
    os.remove(path)
"""
"""Writes 64 MB and waits for the disk to hold it (``fsync``), again and again."""


@contextmanager
def busy_machine(cores, disk_writers, directory):
    """While the block runs, ``cores`` processes that each keep a core busy and
    ``disk_writers`` that keep writing to ``directory``'s disk: the crawl on a machine shared
    with other work."""
    commands = [[sys.executable, "-c", "while True: pass"]] * cores \
        + [[sys.executable, "-c", DISK_WRITER, str(directory)]] * disk_writers
    others = [subprocess.Popen(command) for command in commands]
    try:
        yield
    finally:
        for other in others:
            other.kill()
            other.wait()
        for leftover in Path(directory).glob(".busy-disk-*"):
            leftover.unlink()


def crawl_figures(args, key, sandbox_options):
    """Run the crawl, a second crawl of the same command, ``scrapy status`` and the
    cross-section; the crawler's figures."""
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="screener-bench-"))
    settings = {"POLYGON_RATE_LIMIT": args.cap, "CONCURRENT_REQUESTS": args.concurrency,
                "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency, "PRICES_START": args.prices_start,
                "PRICES_END": args.prices_end, **dict(item.split("=", 1) for item in args.set)}
    with SandboxProcess(**sandbox_options, rate_limit=args.sandbox_rate_limit) as sandbox:
        sandbox_cpu = process_cpu_seconds(sandbox.proc.pid)
        answers_kept = kept_answers(args.response_store)
        stalled_before = {resource: pressure_stalled_seconds(resource) for resource in ("cpu", "io")}
        with busy_machine(args.busy_cores, args.busy_disk, data_dir.parent):
            wall, usage, log, stats = crawl(sandbox.url, key, data_dir, settings, args.stop_after)
        pressure = {f"{resource}_pressure_pct": None if before is None else
                    round(100 * (pressure_stalled_seconds(resource) - before) / wall, 1)
                    for resource, before in stalled_before.items()}
        sandbox_cpu = process_cpu_seconds(sandbox.proc.pid) - sandbox_cpu
        stopped = stats.get("finish_reason") != "finished"
        second_stats = crawl(sandbox.url, key, data_dir, settings)[3] if not stopped else None
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".log").write_text(log)
    args.output.with_suffix(".rss.tsv").write_text(
        "".join(f"{seconds}\t{mb}\n" for seconds, mb in usage.pop("rss_samples")))
    started = time.monotonic()
    status = None if stopped else subprocess.run(
        [sys.executable, "-m", "scrapy", "status", "--data-dir", str(data_dir), "--json"],
        cwd=PROJECT_ROOT, capture_output=True, text=True)
    status_seconds = time.monotonic() - started

    cross_section_seconds, cross_section_rows = cross_section(data_dir)
    parquet_files, parquet_bytes = files_on_disk(data_dir)
    if args.data_dir is None:
        shutil.rmtree(data_dir)

    tickers = args.universe_size + args.delisted
    requests = stats.get("downloader/request_count", 0)
    return {
        **measured_options(args),
        "settings": args.set,
        "busy_cores": args.busy_cores,
        "busy_disk": args.busy_disk,
        **figures(wall, usage, requests, tickers, args.cap),
        **(stopped_figures(log, stats, wall, args.stop_after) if stopped else {}),
        "target_wall_seconds_at_cap": round(1.1 * requests / args.cap, 1) if args.cap else None,
        "sandbox_cpu_seconds": round(sandbox_cpu, 1),
        **pressure,
        "sandbox_answers_kept_before": answers_kept,
        "http_429": stats.get("downloader/response_status_count/429", 0),
        "retries": stats.get("retry/count", 0),
        "units_failed": units_failed(stats),
        "parquet_files": parquet_files,
        "parquet_gb": round(parquet_bytes / 1e9, 2),
        "ratio_pass_seconds": stats.get("financial_ratios/seconds"),
        "publishes": stats.get("publish/count", 0),
        "staged_files": stats.get("staging/files", 0),
        "requests_held_by_staging": stats.get("staging/requests_held", 0),
        "requests_held_by_staging_seconds": round(stats.get("staging/requests_held_seconds", 0), 1),
        "reactor_max_lag_ms": stats.get("reactor/max_lag_ms", 0),
        "reactor_lags_over_100ms": stats.get("reactor/lags_over_100ms", 0),
        "reactor_max_lag_less_cpu_queue_ms": stats.get("reactor/max_lag_less_cpu_queue_ms", 0),
        "reactor_lags_over_100ms_less_cpu_queue": stats.get("reactor/lags_over_100ms_less_cpu_queue", 0),
        "gc_max_pause_ms": stats.get("reactor/gc_max_pause_ms", 0),
        "rows": rows_per_dataset(stats),
        "cross_section_seconds": cross_section_seconds,
        "cross_section_rows": cross_section_rows,
        "status_ok": status.returncode == 0 if status else None,
        **status_figures(status.stdout if status else ""),
        "status_seconds": round(status_seconds, 1) if status else None,
        "second_run_requests": second_stats.get("downloader/request_count", 0) if second_stats is not None else None,
        "data_dir": str(data_dir) if args.data_dir else "(removed)",
    }


def stopped_early(result):
    """Why ``result``'s wall time cannot be compared with the baseline's, or None: a crawl
    stopped by ``--stop-after``, or from outside (Ctrl-C, a full disk), did only part of the
    universe."""
    done = f"({result.get('units_complete_pct')} % of its units), so its wall time is a part's"
    if result.get("stopped_after_seconds") is not None:
        return f"the crawl was stopped after {result['stopped_after_seconds']} s by --stop-after {done}"
    if result.get("finish_reason", "finished") != "finished":
        return f"the crawl ended with finish_reason {result['finish_reason']!r}, not 'finished' {done}"
    return None


def earlier_crawl(args):
    """The crawler's figures from ``--crawl-result``, which must be of a whole crawl measured
    with the options given now, so the baseline beside it runs against the same sandbox."""
    result = json.loads(args.crawl_result.read_text())
    if reason := stopped_early(result):
        sys.exit(f"{args.crawl_result} cannot be compared with a baseline: {reason}")
    result.pop("baseline", None)
    result.pop("baseline_wall_ratio", None)
    differing = {name: (result.get(name), value) for name, value in measured_options(args).items()
                 if result.get(name) != value}
    if differing:
        sys.exit(f"{args.crawl_result} was measured with other options (earlier, now): {differing}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--universe-size", type=int, default=10070)
    parser.add_argument("--delisted", type=int, default=0, help="delisted tickers in the sandbox (default 0)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="sandbox latency per response")
    parser.add_argument("--sandbox-rate-limit", type=float, default=0.0, help="sandbox answers 429 above this")
    parser.add_argument("--cap", type=float, default=100.0, help="POLYGON_RATE_LIMIT of the crawl (0 = none)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--busy-cores", type=int, default=0, metavar="N",
                        help="keep N cores busy with other processes during the (first) crawl")
    parser.add_argument("--busy-disk", type=int, default=0, metavar="N",
                        help="keep N other processes writing to the data root's disk (64 MB and fsync, again and "
                             "again) during the (first) crawl")
    parser.add_argument("--plan", choices=("v1", "basic"), default="v1")
    parser.add_argument("--prices-start", default="2009-01-01")
    parser.add_argument("--prices-end", default=DEFAULT_AS_OF.isoformat(),
                        help="last day of daily bars (default: the sandbox's last market day; later weekdays "
                             "would each cost the grouped-daily listing an empty request)")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the baseline client against a fresh sandbox (default: yes)")
    parser.add_argument("--keep-baseline-data", action="store_true")
    parser.add_argument("--baseline-sample", type=int, default=0, metavar="N",
                        help="the baseline downloads only N tickers spread over the universe (all in the sandbox) "
                             "and its wall time for the whole universe is extrapolated (0 = every ticker)")
    parser.add_argument("--data-dir", type=Path,
                        help="kept afterwards; default: a temporary folder, removed once measured")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "bench" / "results" / "screener_crawl.json")
    parser.add_argument("--crawl-result", type=Path, metavar="JSON",
                        help="take the crawler's figures from this earlier --no-baseline result of the same options "
                             "and run only the baseline")
    parser.add_argument("--stop-after", type=float, metavar="SECONDS",
                        help="send the crawl a SIGINT (Ctrl-C) after this long and report how far it got, "
                             "without the second run or scrapy status; for a universe too big for the "
                             "machine's time or disk")
    parser.add_argument("--response-store", type=Path, metavar="DIR",
                        help="the sandbox keeps its answers in DIR and serves them from there when asked again: "
                             "the first run fills it, later runs measure the crawl without the sandbox generating "
                             "its synthetic data on the same cores (the result says how many answers were kept "
                             "before the run)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a further Scrapy setting of the crawl, e.g. --set SCREENER_RATIO_CHUNK_TICKERS=1000")
    args = parser.parse_args()

    key = SANDBOX_API_KEY if args.plan == "v1" else SANDBOX_BASIC_KEY
    sandbox_options = {"universe_size": args.universe_size, "delisted": args.delisted, "latency_ms": args.latency_ms}
    if args.response_store:
        sandbox_options["response_store"] = str(args.response_store)
    result = earlier_crawl(args) if args.crawl_result else crawl_figures(args, key, sandbox_options)
    if args.baseline and (reason := stopped_early(result)):
        print(f"baseline not run: {reason}")
    elif args.baseline:
        baseline_dir = Path(tempfile.mkdtemp(prefix="screener-baseline-"))
        with SandboxProcess(**sandbox_options, rate_limit=args.sandbox_rate_limit or args.cap) as sandbox:
            baseline_wall, baseline_usage, summary = baseline(sandbox.url, key, baseline_dir, args.prices_start,
                                                              args.prices_end, args.baseline_sample)
        if not args.keep_baseline_data:
            shutil.rmtree(baseline_dir)
        result["baseline"] = {
            "universe": summary["tickers"],
            "sandbox_rate_limit": args.sandbox_rate_limit or args.cap,
            **figures(baseline_wall, baseline_usage, summary["api_requests"], summary["tickers"], args.cap),
            "http_429": summary["http_429"],
            "retries": summary["retries"],
            "tickers_failed": summary["tickers_failed"],
            "rows": summary["rows"],
            "data_dir": str(baseline_dir) if args.keep_baseline_data else "(removed)",
        }
        universe_wall = baseline_wall * summary["universe"] / summary["tickers"]
        if summary["tickers"] < summary["universe"]:
            result["baseline"]["wall_seconds_for_universe_extrapolated"] = round(universe_wall, 1)
        result["baseline_wall_ratio"] = round(universe_wall / result["wall_seconds"], 2)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print_table(result)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
