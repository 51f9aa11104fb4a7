"""``scrapy crawl screener``: the whole universe in one resumable command, against the sandbox
over loopback. The ledger decides what is done: a re-run sends nothing, ``refill`` rewrites one
ticker, failures are retried, and neither SIGKILL nor a Ctrl-C pause loses or duplicates rows."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from collections import Counter

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from screener_crawler import settings as project_settings
from screener_crawler.datasets import DATASETS, TICKER_DATASETS
from screener_crawler.ratios.latest import latest_path
from screener_crawler.sandbox import SandboxProcess
from screener_crawler.sandbox.market import SyntheticMarket, warrant_of
from tests.crawl import (PROJECT_ROOT, SHORT_HISTORY, comparable_rows, crawl_stats, ledger, read_dataset, run_crawl, sandbox_env,
                         stat)
from tests.crawl import snapshot as crawl_snapshot

KEY = "screener-test-key-9c1d"
BASIC_KEY = "screener-basic-key-44e0"
UNIVERSE = dict(universe_size=40, delisted=4, history_start=SHORT_HISTORY)
SETTINGS = {"POLYGON_RATE_LIMIT": 0, "SCREENER_PROGRESS_INTERVAL": 1, "PRICES_START": "2024-06-01"}


@pytest.fixture(scope="module")
def sandbox():
    with SandboxProcess(keys=[KEY], basic_keys=[BASIC_KEY], **UNIVERSE) as sb:
        yield sb


def environment(sandbox, data_dir, key=KEY):
    return sandbox_env(sandbox, data_dir, key)


def screener(sandbox, data_dir, *arguments, key=KEY, check=True, **settings):
    result = run_crawl("screener", *arguments, env=environment(sandbox, data_dir, key),
                       settings={**SETTINGS, **settings})
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def snapshot(data_dir):
    return crawl_snapshot(data_dir, (*TICKER_DATASETS, "universe", "financial_ratios_latest"))


@pytest.fixture(scope="module")
def full_run(sandbox, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("full")
    return data_dir, screener(sandbox, data_dir)


def test_without_tickers_the_universe_comes_first(full_run):
    data_dir, _ = full_run
    universe = read_dataset(data_dir, "universe").to_pylist()
    assert {row["active"] for row in universe} == {True, False}
    assert (data_dir / "universe" / "universe.parquet").exists()
    # one row per listing: a symbol two companies held is kept twice (an active and a delisted
    # holder, or two delisted ones), a repeated listing once
    assert len(universe) == UNIVERSE["universe_size"] + UNIVERSE["delisted"] + 2
    held_twice = [t for t, count in Counter(row["ticker"] for row in universe).items() if count == 2]
    holders = [[row for row in universe if row["ticker"] == ticker] for ticker in held_twice]
    assert sorted(tuple(sorted(row["active"] for row in rows)) for rows in holders) == [(False, False), (False, True)]
    assert all(rows[0]["cik"] != rows[1]["cik"] for rows in holders)
    market = SyntheticMarket(size=UNIVERSE["universe_size"], delisted=UNIVERSE["delisted"])
    repeated = next(c for c in market.delisted_listings() if c.last_updated)
    kept = [row for row in universe if (row["ticker"], row["composite_figi"]) == (repeated.ticker, repeated.composite_figi)]
    assert len(kept) == 1 and kept[0]["last_updated_utc"].date() == repeated.delisted > repeated.last_updated


def test_unit_requests_wait_for_room_in_the_downloader(sandbox, tmp_path):
    result = run_crawl("screener", env=environment(sandbox, tmp_path), settings=SETTINGS,
                       module="tests.scheduler_depth")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    deepest = int(re.search(r"scheduler max pending: (\d+)", result.stderr).group(1))
    concurrency = project_settings.CONCURRENT_REQUESTS
    assert stat(result, "downloader/request_count") > 8 * concurrency
    assert deepest <= 2 * concurrency


def test_a_universe_that_cannot_be_listed_ends_the_crawl(tmp_path):
    with SandboxProcess(keys=[KEY], universe_size=10, fault_5xx=1.0, history_start=SHORT_HISTORY) as failing:
        result = screener(failing, tmp_path, check=False, RETRY_TIMES=1, BACKOFF_BASE_DELAY=0.1)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stats["finish_reason"] == "finished"
    assert stat(result, "units/failed/universe") == 1
    assert re.search(r"^  failed units by reason: HTTP 50\d \(1\)$", result.stderr, re.MULTILINE)
    assert not any(tmp_path.rglob("*.parquet"))


def test_every_dataset_of_every_ticker_is_done(full_run):
    data_dir, _ = full_run
    tickers = {row["ticker"] for row in read_dataset(data_dir, "universe").to_pylist()}
    state = ledger(data_dir)
    for dataset in TICKER_DATASETS:
        assert set(state["datasets"][dataset]["done"]) == tickers, dataset
        assert state["datasets"][dataset]["failed"] == {}
    assert sorted(state["completed"]) == sorted(tickers)
    assert state["total_tickers"] == len(tickers)


def test_written_rows_match_the_ledger(full_run):
    data_dir, _ = full_run
    state = ledger(data_dir)
    for dataset in TICKER_DATASETS:
        table = read_dataset(data_dir, dataset)
        rows = table.num_rows if table is not None else 0
        assert rows == sum(rows for rows, _ in state["datasets"][dataset]["done"].values()), dataset
        assert rows > 0, dataset


def status_report(data_dir, *options):
    result = subprocess.run([sys.executable, "-m", "scrapy", "status", "--data-dir", str(data_dir), "--json",
                             *options], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout)


def test_status_reports_every_dataset_complete_with_one_schema(full_run):
    data_dir, _ = full_run
    report = status_report(data_dir)
    assert report["ok"] and report["progress_file"] == str(data_dir / "download_progress.json")
    for dataset in TICKER_DATASETS:
        entry = report["datasets"][dataset]
        assert entry["completion"]["done_pct"] == 100.0, dataset
        assert entry["schema_mismatches"] == [] and entry["unreadable_files"] == [], dataset
        assert entry["staged"]["files"] == 0, dataset


def test_every_partition_is_one_file_of_every_ticker_sorted(full_run):
    data_dir, _ = full_run
    for dataset in TICKER_DATASETS:
        files = sorted((data_dir / dataset).rglob("*.parquet"))
        assert files and {path.name for path in files} == {"part-0.parquet"}, dataset
        for path in files:
            tickers = pq.read_table(path, columns=["ticker"]).column("ticker").to_pylist()
            assert tickers == sorted(tickers), path
    assert not list((data_dir / "_staging").iterdir())


@pytest.mark.parametrize("dataset", (*TICKER_DATASETS, "universe"))
def test_pyarrow_polars_and_duckdb_read_every_dataset(full_run, dataset):
    import duckdb
    import polars as pl

    data_dir, _ = full_run
    expected = read_dataset(data_dir, dataset).num_rows
    depth = "/*/*" if DATASETS[dataset].partition_date else ""
    pattern = f"{data_dir / dataset}{depth}/*.parquet"
    assert pl.scan_parquet(pattern, hive_partitioning=True).collect().height == expected
    count = duckdb.sql(f"SELECT count(*) FROM read_parquet('{pattern}', hive_partitioning = true)").fetchall()
    assert count[0][0] == expected


def test_progress_lines_are_logged(full_run):
    _, result = full_run
    assert "Progress: units" in result.stderr and "req/s" in result.stderr and "ETA" in result.stderr


def test_the_log_ends_with_a_short_summary_not_the_stats(full_run):
    data_dir, result = full_run
    tickers = UNIVERSE["universe_size"] + UNIVERSE["delisted"]
    assert "Dumping Scrapy stats" not in result.stderr and "fields_coverage" not in result.stderr
    summary = result.stderr[result.stderr.rindex("Crawl summary (screener): finished after 0:"):].splitlines()
    assert len(summary) <= 25 and summary[-1].endswith("Spider closed (finished)")
    assert f"  tickers: {tickers} of {tickers} complete, 0 with a failed dataset" in summary
    requests = result.stats["downloader/request_count"]
    assert f"  API requests: {requests:,} ({requests / tickers:.2f} per ticker), 429s: 0, retries: 0" in summary
    state = ledger(data_dir)
    for dataset in TICKER_DATASETS:
        rows = sum(rows for rows, _ in state["datasets"][dataset]["done"].values())
        assert re.search(rf"^  {dataset} +{tickers} +{rows:,} +0$", "\n".join(summary), re.MULTILINE), dataset
    assert f"  data: {data_dir}" in summary
    assert f"  every stat and the field coverage: {data_dir / 'crawl_stats.json'}" in summary
    assert any(f"scrapy status --data-dir {data_dir}" in line for line in summary)


def test_every_stat_and_the_field_coverage_go_to_a_file_beside_the_ledger(full_run):
    data_dir, result = full_run
    written = json.loads((data_dir / "crawl_stats.json").read_text())
    assert written["spider"] == "screener" and written["progress_file"] == str(data_dir / "download_progress.json")
    stats = written["stats"]
    assert stats["finish_reason"] == "finished" and stats["downloader/request_count"] > 0
    assert stats["fields_coverage/balance_sheets"]["total_assets"] == "100.0%"
    assert stats["fields_coverage/daily_prices"]["close"] == "100.0%"
    assert KEY not in (data_dir / "crawl_stats.json").read_text()


def test_the_progress_line_counts_every_planned_unit_by_the_end(full_run):
    _, result = full_run
    ended = sum(count for name, count in result.stats.items() if name.startswith(("units/complete/", "units/failed/")))
    assert ended == stat(result, "units/planned")
    assert stat(result, "units/complete/financial_ratios") == UNIVERSE["universe_size"] + UNIVERSE["delisted"]


def test_v1_plan_lists_statements_for_many_tickers_per_request(full_run):
    _, result = full_run
    tickers = UNIVERSE["universe_size"] + UNIVERSE["delisted"]
    # per ticker: events, related companies, daily bars; everything else is listed in batches
    assert stat(result, "downloader/request_count") <= 3 * tickers + 20


def test_a_second_run_sends_no_request(sandbox, full_run):
    data_dir, _ = full_run
    before = snapshot(data_dir)
    again = screener(sandbox, data_dir)
    assert stat(again, "downloader/request_count") == 0
    assert snapshot(data_dir) == before


def rows_of(data_dir, dataset, keep):
    table = read_dataset(data_dir, dataset)
    return sorted(map(repr, (row for row in table.to_pylist() if keep(row["ticker"]))))


def test_refill_replaces_only_that_tickers_rows(sandbox, full_run):
    data_dir, _ = full_run
    others = {d: rows_of(data_dir, d, lambda t: t != "AAPL") for d in TICKER_DATASETS}
    aapl = {d: read_dataset(data_dir, d).filter(pc.field("ticker") == "AAPL") for d in TICKER_DATASETS}
    latest_others = pq.read_table(latest_path(data_dir)).filter(pc.field("ticker") != "AAPL")
    result = screener(sandbox, data_dir, ("refill", "AAPL"))
    assert stat(result, "units/planned") == len(TICKER_DATASETS)
    for dataset in TICKER_DATASETS:
        assert rows_of(data_dir, dataset, lambda t: t != "AAPL") == others[dataset], dataset
        again = read_dataset(data_dir, dataset).filter(pc.field("ticker") == "AAPL")
        assert comparable_rows(again) == comparable_rows(aapl[dataset]), dataset
    assert pq.read_table(latest_path(data_dir)).filter(pc.field("ticker") != "AAPL").equals(latest_others)
    assert stat(result, "downloader/request_count") > 0
    assert sum(v for k, v in result.stats.items() if k.startswith("publish/partitions_unchanged/")) > 0


def test_a_refill_that_finds_nothing_changed_rewrites_no_file(sandbox, full_run):
    data_dir, _ = full_run
    files = {path: path.stat().st_mtime_ns for path in Path(data_dir).rglob("*.parquet")}
    result = screener(sandbox, data_dir, ("refill", "MSFT"))
    assert stat(result, "units/planned") == len(TICKER_DATASETS)
    assert {path: path.stat().st_mtime_ns for path in Path(data_dir).rglob("*.parquet")} == files


def test_force_redoes_everything(sandbox, full_run):
    data_dir, _ = full_run
    before = snapshot(data_dir)
    result = screener(sandbox, data_dir, ("force", "1"), ("datasets", "related_tickers,ticker_events"))
    tickers = UNIVERSE["universe_size"] + UNIVERSE["delisted"]
    assert stat(result, "units/planned") == 2 * tickers + 1, "both datasets of every ticker, and the universe"
    assert snapshot(data_dir) == before


def test_grouped_daily_gives_the_same_prices_as_per_ticker_listings(sandbox, full_run, tmp_path):
    result = run_crawl("prices", env=environment(sandbox, tmp_path),
                       settings={**SETTINGS, "PRICES_SOURCE": "grouped", "PRICES_END": "2025-11-21"})
    assert result.returncode == 0, result.stderr[-3000:]
    tickers = UNIVERSE["universe_size"] + UNIVERSE["delisted"]
    assert stat(result, "downloader/request_count") > tickers  # a request per trading day, for all tickers
    assert snapshot(tmp_path)["daily_prices"] == snapshot(full_run[0])["daily_prices"]
    done = ledger(tmp_path)["datasets"]["daily_prices"]["done"]
    assert len(done) == tickers
    assert sum(rows for rows, _ in done.values()) == read_dataset(tmp_path, "daily_prices").num_rows


def test_grouped_daily_prices_publishing_at_an_interval_by_months_small_ratio_chunks_and_a_tiny_staging_backlog_change_nothing(
        sandbox, full_run, tmp_path):
    result = screener(sandbox, tmp_path, PRICES_SOURCE="grouped", PRICES_END="2025-11-21",
                      SCREENER_RATIO_CHUNK_TICKERS=7, SCREENER_PUBLISH_INTERVAL=1, SCREENER_PUBLISH_MONTHS=2,
                      SCREENER_STAGING_BACKLOG_BYTES=1)
    tickers = UNIVERSE["universe_size"] + UNIVERSE["delisted"]
    assert stat(result, "units/complete/financial_ratios") == tickers
    assert stat(result, "staging/requests_held") > 0  # every unit waiting to be staged held the requests
    assert stat(result, "publish/periodic") >= 1
    assert stat(result, "publish/months/daily_prices") >= 1
    assert stat(result, "staging/partitions/daily_prices") > 0
    assert snapshot(tmp_path) == snapshot(full_run[0])
    report = status_report(tmp_path)
    assert report["ok"]
    # the warrants in the grouped bars are not common stock: counted and named, not stored
    market = SyntheticMarket(size=UNIVERSE["universe_size"], delisted=UNIVERSE["delisted"])
    warrants = sorted(warrant_of(t) for t in market.tickers if market.has_warrants(t))
    assert warrants and stat(result, "daily_prices/tickers_not_in_universe") == len(warrants)
    assert report["last_crawl"]["tickers_not_in_universe_sample"] == warrants
    assert f"  grouped daily bars of {len(warrants)} tickers not in the universe left out ({warrants[0]}" \
        in result.stderr
    assert not set(warrants) & set(read_dataset(tmp_path, "daily_prices").column("ticker").to_pylist())
    text = subprocess.run([sys.executable, "-m", "scrapy", "status", "--data-dir", str(tmp_path)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300).stdout
    assert f"{len(warrants)} tickers had grouped daily bars but are not in the universe" in text and warrants[0] in text


def test_basic_plan_completes_every_dataset_per_ticker(sandbox, full_run, tmp_path):
    result = screener(sandbox, tmp_path, key=BASIC_KEY)
    state = ledger(tmp_path)
    tickers = UNIVERSE["universe_size"] + UNIVERSE["delisted"]
    for dataset in TICKER_DATASETS:
        assert len(state["datasets"][dataset]["done"]) == tickers, dataset
    assert stat(result, "downloader/request_count") > 5 * tickers
    full = snapshot(full_run[0])
    fallback = snapshot(tmp_path)
    for dataset in ("ticker_events", "related_tickers", "daily_prices"):
        assert fallback[dataset] == full[dataset], dataset


def test_failed_units_keep_their_reason_and_are_retried(sandbox, full_run, tmp_path):
    with SandboxProcess(keys=[KEY], fault_5xx=1.0, **UNIVERSE) as broken:
        failing = screener(broken, tmp_path, ("tickers", "AAPL,MSFT"), ("datasets", "related_tickers"), RETRY_TIMES=0)
    assert "  tickers: 0 of 2 complete, 2 with a failed dataset" in failing.stderr.splitlines()
    failed = ledger(tmp_path)["datasets"]["related_tickers"]["failed"]
    assert set(failed) == {"AAPL", "MSFT"}
    assert failed["AAPL"]["error"].startswith("HTTP 50")
    assert set(ledger(tmp_path)["failed"]) == {"AAPL", "MSFT"}
    screener(sandbox, tmp_path, ("tickers", "AAPL,MSFT"), ("datasets", "related_tickers"))
    state = ledger(tmp_path)["datasets"]["related_tickers"]
    assert set(state["done"]) == {"AAPL", "MSFT"} and state["failed"] == {}


def start_crawl(sandbox, data_dir, **settings):
    command = [sys.executable, "-m", "scrapy", "crawl", "screener"]
    for name, value in {**SETTINGS, "POLYGON_RATE_LIMIT": 40, "SCREENER_LEDGER_SAVE_INTERVAL": 0.2,
                        **settings}.items():
        command += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYGON_", "SCREENER_"))}
    env.update(environment(sandbox, data_dir))
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def units_done(data_dir):
    try:
        return sum(len(d["done"]) for d in ledger(data_dir)["datasets"].values())
    except (OSError, ValueError, KeyError):
        return 0


def kill_when(crawl, data_dir, done_units, timeout=120):
    """SIGKILL the crawl once the ledger lists ``done_units`` units (or it has ended)."""
    deadline = time.monotonic() + timeout
    while crawl.poll() is None and units_done(data_dir) < done_units and time.monotonic() < deadline:
        time.sleep(0.05)
    crawl.send_signal(signal.SIGKILL)
    crawl.wait()


@pytest.mark.parametrize("jobdir", [False, True], ids=["ledger-only", "with-jobdir"])
def test_sigkill_at_several_points_loses_and_duplicates_nothing(sandbox, full_run, tmp_path, jobdir):
    settings = {"JOBDIR": tmp_path / "jobdir"} if jobdir else {}
    total = len(TICKER_DATASETS) * (UNIVERSE["universe_size"] + UNIVERSE["delisted"])
    kills = []
    for fraction in (0.0, 0.25, 0.4):
        kill_when(start_crawl(sandbox, tmp_path, **settings), tmp_path, int(total * fraction) + 1)
        kills.append(units_done(tmp_path))
    assert kills[-1] < total, "the crawl finished before the last kill"
    final = screener(sandbox, tmp_path, **settings)
    assert stat(final, "units/planned") <= total - kills[-1]
    assert snapshot(tmp_path) == snapshot(full_run[0])
    assert not list(tmp_path.rglob(".*.tmp"))


@pytest.mark.parametrize("after_partitions", [0, 150])
def test_sigkill_in_the_middle_of_a_publish_then_the_same_command_ends_like_a_clean_run(
        sandbox, full_run, tmp_path, after_partitions):
    killed = run_crawl("screener", env={**environment(sandbox, tmp_path), "KILL_AFTER_PARTITIONS": str(after_partitions)},
                       settings=SETTINGS, module="tests.kill_in_publish")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert list((tmp_path / "_staging").iterdir()), "the kill left staged units to publish"
    final = screener(sandbox, tmp_path)
    assert "Publishing the units an earlier crawl staged" in final.stderr
    assert snapshot(tmp_path) == snapshot(full_run[0])
    assert not list(tmp_path.rglob(".*.tmp")) and not list((tmp_path / "_staging").iterdir())


def test_ctrl_c_pauses_and_the_same_command_resumes(sandbox, full_run, tmp_path):
    jobdir = tmp_path / "jobdir"
    crawl = start_crawl(sandbox, tmp_path, JOBDIR=jobdir)
    total = len(TICKER_DATASETS) * (UNIVERSE["universe_size"] + UNIVERSE["delisted"])
    while crawl.poll() is None and units_done(tmp_path) < total // 3:
        time.sleep(0.05)
    crawl.send_signal(signal.SIGINT)
    crawl.communicate(timeout=120)
    assert crawl_stats(tmp_path)["finish_reason"] == "shutdown"
    assert (jobdir / "requests.queue").exists()
    resumed = screener(sandbox, tmp_path, JOBDIR=jobdir)
    assert resumed.stats["finish_reason"] == "finished"
    assert snapshot(tmp_path) == snapshot(full_run[0])
