"""``scrapy status``: counts, completion, schema consistency, unreadable files, coverage and
units the ledger calls done without files, checked on trees built with ``write_unit``."""

import io
import json
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from screener_crawler import file_facts
from screener_crawler.commands import status
from screener_crawler.datasets import DATASETS
from screener_crawler.ledger import Ledger
from screener_crawler.storage import write_unit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BALANCE = DATASETS["balance_sheets"]
NOW = datetime(2026, 1, 2, tzinfo=timezone.utc)


def balance_row(ticker, filing_date, total_assets=1.0, cik=None):
    return {"ticker": ticker, "timeframe": "quarterly", "period_end": filing_date,
            "filing_date": filing_date, "source": "v1", "total_assets": total_assets, "cik": cik}


def run_status(root, ledger_path, *options):
    command = [sys.executable, "-m", "scrapy", "status", "--data-dir", str(root),
               "--progress-file", str(ledger_path), *options]
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCREENER_DATA_DIR", "SCREENER_PROGRESS_FILE", "POLYGON_API_KEY", "POLYGON_BASE_URL")}
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)


def run_json(root, ledger_path, *options):
    result = run_status(root, ledger_path, "--json", *options)
    return result.returncode, json.loads(result.stdout)


def save_ledger(path, done=(), failed=()):
    ledger = Ledger(path)
    for dataset, ticker, rows in done:
        ledger.mark_done(dataset, ticker, rows)
    for dataset, ticker, reason in failed:
        ledger.mark_failed(dataset, ticker, reason)
    ledger.save()
    return path


@pytest.fixture
def tree(tmp_path):
    """AAPL (two filings, two months) and MSFT (one filing), both done in the ledger."""
    root = tmp_path / "data"
    write_unit(root, BALANCE, "AAPL", [balance_row("AAPL", date(2024, 5, 3)),
                                       balance_row("AAPL", date(2024, 8, 2))], NOW)
    write_unit(root, BALANCE, "MSFT", [balance_row("MSFT", date(2024, 4, 25))], NOW)
    ledger = save_ledger(tmp_path / "progress.json",
                         done=[("balance_sheets", "AAPL", 2), ("balance_sheets", "MSFT", 1)])
    return root, ledger


def test_consistent_tree_is_counted_and_exits_0(tree):
    root, ledger = tree
    code, report = run_json(root, ledger)
    assert code == 0
    balance = report["datasets"]["balance_sheets"]
    assert (balance["files"], balance["rows"], balance["tickers"]) == (3, 3, 2)
    assert balance["completion"] == {"tickers": 2, "done": 2, "failed": 0, "pending": 0,
                                     "done_pct": 100.0, "failed_pct": 0.0, "pending_pct": 0.0}
    assert report["ok"] is True and report["problems"] == []
    assert list(report["datasets"]) == ["balance_sheets"]


def test_text_output_has_one_line_per_dataset_and_exits_0(tree):
    root, ledger = tree
    result = run_status(root, ledger)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("balance_sheets "))
    assert line.split() == ["balance_sheets", "3", "3", "2", "2", "0", "0", "100.0%", "ok", "0", "0", "ok"]
    assert "OK: every dataset is consistent" in result.stdout


def test_temporary_files_are_ignored(tree):
    root, ledger = tree
    partition = root / "balance_sheets/year=2024/month=05"
    (partition / ".ticker=AAPL.parquet.0123abcd.tmp").write_bytes(b"half written")
    (partition / "_SUCCESS").write_bytes(b"")
    code, report = run_json(root, ledger)
    assert code == 0
    assert report["datasets"]["balance_sheets"]["files"] == 3


def test_file_with_an_extra_column_breaks_the_dataset_and_is_named(tree):
    root, ledger = tree
    table = BALANCE.schema.empty_table().append_column("surprise", pa.array([], pa.int64()))
    odd = root / "balance_sheets/year=2024/month=06/ticker=ODD.parquet"
    odd.parent.mkdir(parents=True)
    pq.write_table(table, odd)

    result = run_status(root, ledger)
    assert result.returncode == 1
    assert "balance_sheets/year=2024/month=06/ticker=ODD.parquet: extra column(s) surprise" in result.stdout
    code, report = run_json(root, ledger)
    assert code == 1
    assert report["datasets"]["balance_sheets"]["schema_mismatches"] == [
        {"file": "balance_sheets/year=2024/month=06/ticker=ODD.parquet",
         "problem": "extra column(s) surprise"}]


def test_file_with_a_retyped_column_is_reported():
    expected = BALANCE.schema
    actual = expected.set(expected.get_field_index("total_assets"), pa.field("total_assets", pa.string()))
    assert status.describe_schema_difference(actual, expected) == \
        "total_assets is string, declared double"


def test_unreadable_file_breaks_the_dataset(tree):
    root, ledger = tree
    garbage = root / "balance_sheets/year=2024/month=05/ticker=BAD.parquet"
    garbage.write_bytes(b"this is not parquet at all")
    code, report = run_json(root, ledger)
    assert code == 1
    balance = report["datasets"]["balance_sheets"]
    assert [item["file"] for item in balance["unreadable_files"]] == \
        ["balance_sheets/year=2024/month=05/ticker=BAD.parquet"]
    assert balance["files"] == 4 and balance["rows"] == 3
    result = run_status(root, ledger)
    assert result.returncode == 1
    assert "ticker=BAD.parquet" in result.stdout and "BROKEN" in result.stdout


def test_done_in_ledger_without_files_breaks_the_dataset(tree, tmp_path):
    root, _ = tree
    ledger = save_ledger(tmp_path / "progress2.json", done=[
        ("balance_sheets", "AAPL", 2), ("balance_sheets", "MSFT", 1),
        ("balance_sheets", "GOOG", 4),   # rows written, files gone
        ("balance_sheets", "EMPTY", 0),  # nothing to write: no file is expected
    ])
    code, report = run_json(root, ledger)
    assert code == 1
    assert report["datasets"]["balance_sheets"]["done_but_missing"] == ["GOOG"]
    result = run_status(root, ledger)
    assert result.returncode == 1
    assert "done in the ledger but no files on disk (1)" in result.stdout and "GOOG" in result.stdout


def test_done_in_ledger_for_a_dataset_without_a_folder_is_reported(tree, tmp_path):
    root, _ = tree
    ledger = save_ledger(tmp_path / "progress2.json", done=[
        ("balance_sheets", "AAPL", 2), ("balance_sheets", "MSFT", 1), ("dividends", "AAPL", 12)])
    code, report = run_json(root, ledger)
    assert code == 1
    assert report["datasets"]["dividends"]["done_but_missing"] == ["AAPL"]
    assert report["datasets"]["dividends"]["files"] == 0


def test_completion_is_measured_against_the_universe_with_failure_reasons(tree, tmp_path):
    root, _ = tree
    universe = [{"ticker": ticker, "active": True} for ticker in ("AAPL", "MSFT", "TSLA", "NVDA")]
    write_unit(root, DATASETS["universe"], None, universe, NOW)
    ledger = save_ledger(tmp_path / "progress2.json",
                         done=[("balance_sheets", "AAPL", 2), ("balance_sheets", "MSFT", 1),
                               ("universe", "*", 4)],
                         failed=[("balance_sheets", "TSLA", "HTTP 500 after 5 retries")])
    code, report = run_json(root, ledger)
    assert code == 0
    assert report["completion_base"] == {"source": "universe", "tickers": 4}
    balance = report["datasets"]["balance_sheets"]
    assert balance["completion"] == {"tickers": 4, "done": 2, "failed": 1, "pending": 1,
                                     "done_pct": 50.0, "failed_pct": 25.0, "pending_pct": 25.0}
    assert balance["failed_tickers"] == {"TSLA": "HTTP 500 after 5 retries"}
    assert report["datasets"]["universe"]["rows"] == 4
    assert report["datasets"]["universe"]["completion"] is None

    result = run_status(root, ledger)
    assert "TSLA: HTTP 500 after 5 retries" in result.stdout


def test_failed_tickers_are_cut_in_text_but_all_in_json(tmp_path):
    root = tmp_path / "data"
    write_unit(root, BALANCE, "AAPL", [balance_row("AAPL", date(2024, 5, 3))], NOW)
    failures = [("balance_sheets", f"F{index:02d}", f"reason {index}") for index in range(15)]
    ledger = save_ledger(tmp_path / "progress.json", done=[("balance_sheets", "AAPL", 1)], failed=failures)
    code, report = run_json(root, ledger)
    assert code == 0
    assert len(report["datasets"]["balance_sheets"]["failed_tickers"]) == 15
    text = run_status(root, ledger, "--limit", "3").stdout
    assert "F02: reason 2" in text and "F03: reason 3" not in text
    assert "... and 12 more" in text


def test_field_coverage_comes_from_footer_statistics_across_row_groups(tmp_path):
    root = tmp_path / "data"
    write_unit(root, BALANCE, "MSFT", [balance_row("MSFT", date(2024, 4, 10), 3.0, cik="0000789019"),
                                       balance_row("MSFT", date(2024, 4, 25), 4.0)], NOW)
    # Four AAPL rows in one file, one row per row group: total_assets null in one of them.
    rows = [balance_row("AAPL", date(2024, 4, day), value) for day, value in
            ((1, 1.0), (2, None), (3, 2.0), (4, 5.0))]
    table = pa.Table.from_pylist([{**row, "downloaded_at": NOW} for row in rows], schema=BALANCE.schema)
    pq.write_table(table, root / "balance_sheets/year=2024/month=04/ticker=AAPL.parquet", row_group_size=1)
    assert pq.read_metadata(root / "balance_sheets/year=2024/month=04/ticker=AAPL.parquet").num_row_groups == 4
    ledger = save_ledger(tmp_path / "progress.json",
                         done=[("balance_sheets", "AAPL", 4), ("balance_sheets", "MSFT", 2)])

    code, report = run_json(root, ledger)
    assert code == 0
    coverage = report["datasets"]["balance_sheets"]["field_coverage"]
    assert coverage["total_assets"] == pytest.approx(100 * 5 / 6, abs=0.01)
    assert coverage["cik"] == pytest.approx(100 * 1 / 6, abs=0.01)
    assert coverage["ticker"] == 100.0
    assert coverage["goodwill"] == 0.0
    assert coverage["tickers"] is None  # a list column: leaf statistics do not count rows
    text = run_status(root, ledger, "--limit", "100").stdout
    assert "cik 16.7%" in text and "total_assets 83.3%" in text


def test_missing_data_dir_is_a_usage_error(tmp_path):
    result = run_status(tmp_path / "nowhere", tmp_path / "progress.json")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "nowhere" in result.stderr


def test_missing_explicit_progress_file_is_a_usage_error(tree, tmp_path):
    root, _ = tree
    result = run_status(root, tmp_path / "no-such-ledger.json")
    assert result.returncode == 2
    assert "no-such-ledger.json does not exist" in result.stderr


def test_unreadable_ledger_breaks_the_status(tree, tmp_path):
    root, _ = tree
    ledger = tmp_path / "broken.json"
    ledger.write_text("{not json")
    code, report = run_json(root, ledger)
    assert code == 1
    assert report["ledger"]["error"] and report["problems"][0].startswith("ledger unreadable")


def test_footer_tallies_merge_like_one_tally(tree):
    root, _ = tree
    files = status.data_files(root / "balance_sheets")
    _, whole = status.tally_footers("balance_sheets", files)
    merged = status.FooterTally(BALANCE.columns)
    for path in files:
        merged.merge(status.tally_footers("balance_sheets", [path])[1])
    assert (merged.files, merged.rows, merged.rows_by_ticker) == (3, 3, {"AAPL": 2, "MSFT": 1})
    assert merged.coverage() == whole.coverage()


def test_progress_line_appears_only_after_the_delay(monkeypatch):
    stream = io.StringIO()
    progress = status.Progress(stream)
    progress.update("read 1/10 footers")
    assert stream.getvalue() == ""
    monkeypatch.setattr(status, "PROGRESS_AFTER_SECONDS", 0.0)
    progress.update("read 2/10 footers")
    assert stream.getvalue().startswith("status: read 2/10 footers")


def test_footers_read_by_worker_threads_add_up_like_one_reader(tree, monkeypatch):
    root, _ = tree
    write_unit(root, BALANCE, "NVDA", [balance_row("NVDA", date(2024, month, 1), None) for month in (1, 2, 3)], NOW)
    files = {"balance_sheets": status.data_files(root / "balance_sheets")}
    monkeypatch.setattr(status, "FILES_PER_TASK", 2)  # several tasks, so the pool is used
    progress = status.Progress(io.StringIO())
    parallel = status.read_footers(files, 2, progress)[0]["balance_sheets"]
    serial = status.read_footers(files, 1, progress)[0]["balance_sheets"]
    assert (parallel.files, parallel.rows, parallel.rows_by_ticker) == (6, 6, {"AAPL": 2, "MSFT": 1, "NVDA": 3})
    assert parallel.coverage() == serial.coverage()
    assert parallel.coverage()["total_assets"] == 50.0


def test_files_as_the_writer_recorded_them_are_not_read_again(tree):
    root, ledger_path = tree
    _, report = run_json(root, ledger_path)
    _, deep = run_json(root, ledger_path, "--deep")
    assert report["files_checked"] == {"footers_read": 0, "from_writer_facts": 3}
    assert deep["files_checked"] == {"footers_read": 3, "from_writer_facts": 0}
    assert report["datasets"] == deep["datasets"]


def test_a_file_changed_after_it_was_written_is_read_again(tree):
    root, ledger_path = tree
    path = next((root / "balance_sheets").rglob("ticker=MSFT.parquet"))
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index("total_assets"), "total_assets",
                                    pa.nulls(table.num_rows, pa.float64())), path)
    _, report = run_json(root, ledger_path)
    assert report["files_checked"] == {"footers_read": 1, "from_writer_facts": 2}
    assert report["datasets"]["balance_sheets"]["field_coverage"]["total_assets"] == 66.67


def test_facts_written_for_another_schema_are_ignored(tree):
    root, ledger_path = tree
    for facts in (root / file_facts.FOLDER / "balance_sheets").glob("*.json"):
        document = json.loads(facts.read_text())
        facts.write_text(json.dumps({**document, "schema": "another"}))
    _, report = run_json(root, ledger_path)
    assert report["files_checked"] == {"footers_read": 3, "from_writer_facts": 0}
