"""Crawls against a misbehaving sandbox over loopback: 5xx pages, 429s, truncated JSON, resets
and stalls, a server that says ``Retry-After: 3`` for ten seconds, a rate limit, a disk that
fills up. Each must end with the rows a clean crawl writes, and the key nowhere."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from screener_crawler.datasets import TICKER_DATASETS
from screener_crawler.sandbox import SandboxProcess
from tests.crawl import SHORT_HISTORY, ledger, run_crawl, sandbox_env, snapshot, stat

KEY = "faults-test-key-4f1e8b2a9d"
UNIVERSE = {"universe_size": 40, "delisted": 4, "history_start": SHORT_HISTORY}
TICKERS = "AAPL,MSFT,GOOGL"
SETTINGS = {"PRICES_START": "2024-06-01", "POLYGON_PAGE_SIZE": 8, "POLYGON_RATE_LIMIT": 0}
CHAOS = {"fault_5xx": 0.10, "fault_429": 0.05, "fault_truncated": 0.01, "fault_reset": 0.01, "fault_stall": 0.01,
         "stall_seconds": 4, "fault_seed": 172}


def crawl(sandbox, data_dir, *arguments, spider="screener", **settings):
    return run_crawl(spider, ("tickers", TICKERS), *arguments,
                     env=sandbox_env(sandbox, data_dir, KEY), settings={**SETTINGS, **settings})


def finished(result):
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stats["finish_reason"] == "finished", result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def served(log_path):
    """(arrival time, outcome) of every request the sandbox answered, in order."""
    lines = Path(log_path).read_text().splitlines()
    return sorted((float(time), outcome) for time, outcome, _ in (line.split(" ", 2) for line in lines))


@pytest.fixture(scope="module")
def sandbox():
    with SandboxProcess(keys=[KEY], **UNIVERSE) as sb:
        yield sb


@pytest.fixture(scope="module")
def clean_run(sandbox, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("clean")
    finished(crawl(sandbox, data_dir))
    return snapshot(data_dir)


@pytest.fixture(scope="module")
def chaos_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("chaos")
    requests_log = data_dir.parent / "chaos-requests.log"
    with SandboxProcess(keys=[KEY], request_log=str(requests_log), **UNIVERSE, **CHAOS) as broken:
        result = crawl(broken, data_dir, LOG_LEVEL="DEBUG", STATS_DUMP=True, JOBDIR=data_dir / "jobdir",
                       DOWNLOAD_TIMEOUT=2, BACKOFF_BASE_DELAY=0.25)
    return data_dir, finished(result), served(requests_log)


def test_chaos_crawl_writes_the_same_rows_as_a_clean_one(chaos_run, clean_run):
    data_dir, _, _ = chaos_run
    assert all(clean_run.values())
    assert snapshot(data_dir) == clean_run
    for dataset in TICKER_DATASETS:
        assert ledger(data_dir)["datasets"][dataset]["failed"] == {}, dataset


def test_chaos_crawl_met_and_retried_every_kind_of_fault(chaos_run):
    _, result, requests = chaos_run
    outcomes = [outcome for _, outcome in requests]
    for fault in ("429", "502", "reset", "stall", "truncated"):
        assert fault in outcomes, f"the sandbox served no {fault}; pick another fault_seed"
    assert stat(result, "retry/reason_count/429 Too Many Requests") == outcomes.count("429")
    assert stat(result, "retry/reason_count/invalid JSON") == outcomes.count("truncated")
    assert stat(result, "retry/reason_count/502 Bad Gateway") == outcomes.count("502")
    assert stat(result, "retry/reason_count/scrapy.exceptions.DownloadTimeoutError") >= 1
    assert stat(result, "backoff/pauses") >= 1 and stat(result, "backoff/retries_delayed") >= 1


def test_key_appears_in_no_output_of_a_debug_crawl(chaos_run):
    data_dir, result, _ = chaos_run
    logs = result.stdout + result.stderr
    assert "DEBUG: Retrying" in logs and "'retry/count'" in logs
    assert KEY not in logs
    files = [path for path in data_dir.parent.rglob("*") if path.is_file()]
    kinds = {path.suffix for path in files}
    assert {".parquet", ".json", ".log"} <= kinds and any("jobdir" in path.parts for path in files)
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path


def test_retry_after_is_honoured_by_every_request(clean_run, tmp_path):
    """The server answers 429 with ``Retry-After: 3`` for ten seconds: after each 429 nothing
    reaches it for three seconds, except requests that were already on their way."""
    requests_log = tmp_path / "requests.log"
    datasets = ("related_tickers", "ticker_events")
    with SandboxProcess(keys=[KEY], throttle_seconds=10, retry_after=3, request_log=str(requests_log),
                        **UNIVERSE) as throttled:
        finished(crawl(throttled, tmp_path / "data", ("datasets", ",".join(datasets)), BACKOFF_LOWER_RATE_AFTER=5))
    requests = served(requests_log)
    first = requests[0][0]
    refusals = [at for at, outcome in requests if outcome == "429"]
    assert refusals[-1] - first >= 9
    for refused_at in refusals:
        early = [at for at, _ in requests if refused_at + 0.25 < at < refused_at + 3]
        assert not early, f"{len(early)} request(s) within 3 s of a 429"
    assert snapshot(tmp_path / "data", datasets) == {d: clean_run[d] for d in datasets}


def test_rate_cap_holds_in_every_window_against_a_server_that_refuses_above_it(clean_run, tmp_path):
    rate = 6
    requests_log = tmp_path / "requests.log"
    with SandboxProcess(keys=[KEY], rate_limit=rate, request_log=str(requests_log), **UNIVERSE) as limited:
        result = finished(crawl(limited, tmp_path / "data", spider="fundamentals", POLYGON_RATE_LIMIT=rate,
                                POLYGON_PAGE_SIZE=3))
    times = [at for at, _ in served(requests_log)]
    assert times[-1] - times[0] > 6, "too few requests to fill a 5-second window"
    busiest = max(sum(1 for t in times if start <= t < start + 5) for start in times)
    assert 4 * rate < busiest <= 5 * rate
    assert stat(result, "retry/reason_count/429 Too Many Requests") == stat(result, "downloader/response_status_count/429")
    statements = ("balance_sheets", "income_statements", "cash_flow")
    assert snapshot(tmp_path / "data", statements) == {d: clean_run[d] for d in statements}


def test_full_disk_stops_the_crawl_leaves_nothing_half_written_and_a_rerun_completes(sandbox, clean_run, tmp_path):
    datasets = ("dividends", "related_tickers", "ticker_events")
    stopped = run_crawl("screener", ("tickers", TICKERS), ("datasets", ",".join(datasets)), module="tests.full_disk",
                        env={**sandbox_env(sandbox, tmp_path, KEY), "FULL_DISK_AFTER": "2"},
                        settings=SETTINGS)
    assert stopped.stderr.count("is full (No space left on device): stopping the crawl") == 1
    assert stopped.stats["finish_reason"] == "disk_full"
    assert "Traceback" not in stopped.stderr
    assert not list(tmp_path.rglob("*.tmp")) and not list((tmp_path / "_staging").glob("*.arrow.*"))
    for path in tmp_path.rglob("*.parquet"):
        pq.read_metadata(path)
    state = ledger(tmp_path)["datasets"]
    assert sum(len(state[d]["done"]) for d in datasets) < 3 * len(datasets)
    assert {f["error"] for d in datasets for f in state[d]["failed"].values()} <= {"disk full"}
    finished(crawl(sandbox, tmp_path, ("datasets", ",".join(datasets))))
    assert snapshot(tmp_path, datasets) == {d: clean_run[d] for d in datasets}
