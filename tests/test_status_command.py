"""``scrapy status`` on storage v2: counts, completion, units staged but not published, schema
consistency, unreadable and stray files, coverage from footer statistics, the v1 layout, and
the exit code. Trees are built with the storage API (stage, then publish), as a crawl writes."""

import argparse
import dataclasses
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
from scrapy.exceptions import UsageError
from scrapy.settings import Settings

from screener_crawler.commands.status import Command
from screener_crawler.datasets import DATASETS, DERIVED_DATASETS, STORED_DATASETS
from screener_crawler.ledger import Ledger
from screener_crawler.ratios.catalogue import RATIOS, VX_ONLY
from screener_crawler.status import progress as progress_module
from screener_crawler.status.checks import build_report
from screener_crawler.status.ledger_view import LedgerView
from screener_crawler.status.partitions import describe_schema_difference
from screener_crawler.status.report import format_text
from screener_crawler.storage import layout
from screener_crawler.storage.publishing import publish
from screener_crawler.storage.staging import WHOLE_TABLE, StagingArea
from screener_crawler.storage.tables import records_table, stamped

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BALANCE = DATASETS["balance_sheets"]
UNIVERSE = DATASETS["universe"]
LATEST = DERIVED_DATASETS["financial_ratios_latest"]
NOW = datetime(2026, 1, 2, tzinfo=timezone.utc)


def balance_row(ticker, filing_date, total_assets=1.0, cik=None):
    return {"ticker": ticker, "timeframe": "quarterly", "period_end": filing_date,
            "filing_date": filing_date, "source": "v1", "total_assets": total_assets, "cik": cik}


def stage(root, dataset, records, tickers, scope=None):
    return StagingArea(root).stage(dataset, stamped(dataset, records_table(dataset, records), NOW), tickers, scope)


def save_ledger(path, done=(), failed=()):
    ledger = Ledger(path)
    for dataset, ticker, rows in done:
        ledger.mark_done(dataset, ticker, rows)
    for dataset, ticker, reason in failed:
        ledger.mark_failed(dataset, ticker, reason)
    ledger.save()
    return path


def check(root, ledger_path, datasets=None):
    return build_report(root, LedgerView.read(ledger_path), datasets)


def run_command(capsys, *argv):
    """The command in this process, as ``scrapy status ARGV`` runs it: (exit code, stdout, stderr)."""
    command = Command()
    command.settings = Settings()
    parser = argparse.ArgumentParser()
    command.add_options(parser)
    command.run([], parser.parse_args([str(arg) for arg in argv]))
    out, err = capsys.readouterr()
    return command.exitcode, out, err


@pytest.fixture
def tree(tmp_path):
    """AAPL (filings in May and August 2024) and MSFT (April 2024), published; both done."""
    root = tmp_path / "data"
    stage(root, BALANCE, [balance_row("AAPL", date(2024, 5, 3)), balance_row("AAPL", date(2024, 8, 2)),
                          balance_row("MSFT", date(2024, 4, 25))], ["AAPL", "MSFT"])
    publish(root)
    ledger = save_ledger(tmp_path / "progress.json",
                         done=[("balance_sheets", "AAPL", 2), ("balance_sheets", "MSFT", 1)])
    return root, ledger


def partition(root, month, dataset=BALANCE):
    return layout.partition_path(root, dataset, month)


def test_published_partitions_are_counted_per_dataset(tree):
    root, ledger = tree
    report = check(root, ledger)
    balance = report["datasets"]["balance_sheets"]
    assert (balance["files"], balance["rows"], balance["tickers"]) == (3, 3, 2)
    assert balance["bytes"] == sum(partition(root, month).stat().st_size for month in (202404, 202405, 202408))
    assert balance["completion"] == {"tickers": 2, "done": 2, "failed": 0, "pending": 0,
                                     "done_pct": 100.0, "failed_pct": 0.0, "pending_pct": 0.0}
    assert balance["staged"]["files"] == 0
    assert report["ok"] is True and report["problems"] == [] and list(report["datasets"]) == ["balance_sheets"]


def test_consistent_tree_prints_one_table_line_per_dataset_and_exits_0(tree, capsys):
    root, ledger = tree
    code, out, err = run_command(capsys, "--data-dir", root, "--progress-file", ledger)
    assert code == 0, out + err
    line = next(line for line in out.splitlines() if line.startswith("balance_sheets "))
    cells = line.split()
    assert cells[:2] == ["balance_sheets", "3"] and cells[4:] == ["3", "2024-08-02", "-", "2", "-", "2", "0", "0", "100.0%",
                                                                  "ok", "ok"]
    assert "OK: every dataset is consistent." in out and err == ""


def test_units_staged_but_not_published_are_reported_without_breaking_the_dataset(tree, tmp_path, capsys):
    root, _ = tree
    stage(root, BALANCE, [balance_row("NVDA", date(2024, 5, 20))], ["NVDA"])
    stage(root, BALANCE, [balance_row("TSLA", date(2024, 6, 20)), balance_row("AAPL", date(2024, 9, 1))],
          ["TSLA", "AAPL"])
    ledger = save_ledger(tmp_path / "progress2.json", done=[("balance_sheets", t, 1) for t in ("AAPL", "MSFT", "NVDA")])
    report = check(root, ledger)
    balance = report["datasets"]["balance_sheets"]
    assert balance["staged"]["files"] == 2 and balance["staged"]["tickers"] == 3
    assert balance["staged"]["replaced_tickers"] == ["AAPL", "NVDA", "TSLA"]
    assert (balance["rows"], balance["tickers"]) == (3, 2)  # only published rows count
    assert balance["done_but_missing"] == []  # NVDA's rows are staged, not lost
    assert report["ok"] is True
    code, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger)
    assert code == 0
    assert "staged, not yet published: 2 file(s) replacing 3 ticker(s)" in out


def test_staged_upserts_are_counted_with_the_tickers_their_rows_touch(tree, tmp_path, capsys):
    root, _ = tree
    stage(root, BALANCE, [balance_row("NVDA", date(2024, 5, 20))], ["NVDA"])
    StagingArea(root).stage_upsert(BALANCE, stamped(BALANCE, records_table(BALANCE, [
        balance_row("AAPL", date(2024, 11, 1)), balance_row("TSLA", date(2024, 11, 1))]), NOW))
    ledger = save_ledger(tmp_path / "progress2.json", done=[("balance_sheets", t, 1) for t in ("AAPL", "MSFT", "TSLA")])
    balance = check(root, ledger)["datasets"]["balance_sheets"]
    assert (balance["staged"]["files"], balance["staged"]["upsert_files"]) == (2, 1)
    assert balance["staged"]["upserted_tickers"] == ["AAPL", "TSLA"] and balance["staged"]["tickers"] == 3
    assert balance["done_but_missing"] == []  # TSLA's rows are staged, not lost
    code, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger)
    assert code == 0
    assert ("staged, not yet published: 2 file(s): 1 replacing 1 ticker(s), 1 upserting rows of 2 ticker(s) "
            "by natural key") in out


def test_a_staged_universe_replaces_the_whole_table(tmp_path):
    stage(tmp_path, UNIVERSE, [{"ticker": "AAPL", "active": True}], WHOLE_TABLE)
    universe = check(tmp_path, tmp_path / "none.json")["datasets"]["universe"]
    assert universe["staged"]["whole_table"] is True and universe["files"] == 0
    assert format_text(check(tmp_path, tmp_path / "none.json"), 10).count("replacing the whole table") == 1


def test_a_file_whose_schema_differs_names_its_columns_and_breaks_the_dataset(tree, capsys):
    root, ledger = tree
    path = partition(root, 202405)
    table = pq.read_table(path)
    table = table.append_column("surprise", pa.array([7] * table.num_rows, pa.int64()))
    table = table.set_column(table.schema.get_field_index("total_assets"), "total_assets",
                             table.column("total_assets").cast(pa.string()))
    pq.write_table(table, path)

    balance = check(root, ledger)["datasets"]["balance_sheets"]
    assert balance["broken"] is True
    assert balance["schema_mismatches"] == [{
        "file": "balance_sheets/year=2024/month=05/part-0.parquet",
        "problem": "extra column(s) surprise; total_assets is string, declared double",
        "columns": ["surprise", "total_assets"]}]
    assert balance["rows"] == 3 and balance["tickers"] == 2
    code, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger)
    assert code == 1
    assert "balance_sheets/year=2024/month=05/part-0.parquet: extra column(s) surprise" in out
    assert "1 bad" in out and "BROKEN" in out


def test_each_dataset_says_how_current_it_is_by_its_latest_partition_date(tree, capsys):
    root, ledger = tree
    assert check(root, ledger)["datasets"]["balance_sheets"]["through"] == "2024-08-02"
    stage(root, BALANCE, [balance_row("NVDA", date(2024, 11, 20))], ["NVDA"])
    publish(root)
    assert check(root, ledger)["datasets"]["balance_sheets"]["through"] == "2024-11-20"
    _, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger)
    header = next(line for line in out.splitlines() if line.startswith("dataset "))
    balance = next(line for line in out.splitlines() if line.startswith("balance_sheets "))
    assert header.split()[4] == "through" and balance.split()[5] == "2024-11-20"


def test_a_file_written_before_nullable_columns_were_declared_is_read_as_null_not_broken(tree, capsys):
    root, ledger = tree
    path = partition(root, 202405)
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["sic", "acceptance_datetime"]), path)

    balance = check(root, ledger)["datasets"]["balance_sheets"]
    assert balance["broken"] is False and balance["schema_mismatches"] == []
    assert balance["older_files"] == [{"file": "balance_sheets/year=2024/month=05/part-0.parquet",
                                       "columns_added_since": ["sic", "acceptance_datetime"]}]
    code, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger)
    assert code == 0 and "month=05/part-0.parquet: lacks sic, acceptance_datetime" in out


def test_schema_differences_are_described_by_column():
    expected = BALANCE.schema
    retyped = expected.set(expected.get_field_index("total_assets"), pa.field("total_assets", pa.string()))
    assert describe_schema_difference(retyped, expected) == ("total_assets is string, declared double",
                                                            ("total_assets",))
    missing = expected.remove(expected.get_field_index("goodwill"))
    assert describe_schema_difference(missing, expected) == ("missing column(s) goodwill", ("goodwill",))
    names = expected.names
    swapped = pa.schema([expected.field(name) for name in [names[1], names[0], *names[2:]]])
    assert describe_schema_difference(swapped, expected) == ("columns in another order (cik, ticker)",
                                                            ("cik", "ticker"))
    nullable = expected.set(0, pa.field("ticker", pa.string()))
    assert describe_schema_difference(nullable, expected)[0] == "ticker is string, declared string not null"


def test_an_unreadable_partition_file_breaks_the_dataset(tree, capsys):
    root, ledger = tree
    partition(root, 202408).write_bytes(b"this is not parquet at all")
    balance = check(root, ledger)["datasets"]["balance_sheets"]
    assert [item["file"] for item in balance["unreadable_files"]] == [
        "balance_sheets/year=2024/month=08/part-0.parquet"]
    assert (balance["files"], balance["rows"]) == (3, 2)
    assert balance["done_but_missing"] == []  # unknowable while a file cannot be read
    code, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger)
    assert code == 1 and "unreadable files (1):" in out and "month=08/part-0.parquet" in out


def test_files_outside_the_layout_break_the_dataset_and_hidden_ones_are_ignored(tree):
    root, ledger = tree
    folder = partition(root, 202405).parent
    (folder / ".part-0.parquet.123-456.tmp").write_bytes(b"half written")
    (folder / "_SUCCESS").write_bytes(b"")
    assert check(root, ledger)["ok"] is True
    pq.write_table(pq.read_table(partition(root, 202405)), folder / "part-1.parquet")
    balance = check(root, ledger)["datasets"]["balance_sheets"]
    assert balance["stray_files"] == ["balance_sheets/year=2024/month=05/part-1.parquet"]
    assert balance["broken"] is True and balance["files"] == 3


def test_a_unit_done_in_the_ledger_without_rows_on_disk_breaks_the_dataset(tree, tmp_path):
    root, _ = tree
    ledger = save_ledger(tmp_path / "progress2.json", done=[
        ("balance_sheets", "AAPL", 2), ("balance_sheets", "MSFT", 1),
        ("balance_sheets", "GOOG", 4),   # rows written, then lost
        ("balance_sheets", "EMPTY", 0),  # nothing to write: no rows are expected
        ("dividends", "AAPL", 12),       # a dataset without a folder
    ])
    report = check(root, ledger)
    assert report["datasets"]["balance_sheets"]["done_but_missing"] == ["GOOG"]
    assert report["datasets"]["dividends"]["done_but_missing"] == ["AAPL"]
    assert report["datasets"]["dividends"]["files"] == 0
    assert report["ok"] is False
    assert "balance_sheets: 1 unit(s) done in the ledger without rows on disk" in report["problems"]


def test_completion_is_measured_against_the_universe_with_failures_by_reason(tree, tmp_path):
    root, _ = tree
    stage(root, UNIVERSE, [{"ticker": t, "active": True} for t in ("AAPL", "MSFT", "TSLA", "NVDA", "AMD")],
          WHOLE_TABLE)
    publish(root)
    ledger = save_ledger(tmp_path / "progress2.json",
                         done=[("balance_sheets", "AAPL", 2), ("balance_sheets", "MSFT", 1)],
                         failed=[("balance_sheets", "TSLA", "HTTP 500"), ("balance_sheets", "NVDA", "HTTP 500"),
                                 ("balance_sheets", "AMD", "invalid JSON"),
                                 ("balance_sheets", "MSFT", "HTTP 500")])  # failed again since: not done
    report = check(root, ledger)
    assert report["completion_base"] == {"source": "universe", "tickers": 5}
    balance = report["datasets"]["balance_sheets"]
    assert balance["completion"] == {"tickers": 5, "done": 1, "failed": 4, "pending": 0,
                                     "done_pct": 20.0, "failed_pct": 80.0, "pending_pct": 0.0}
    assert balance["failures_by_reason"] == {"HTTP 500": 3, "invalid JSON": 1}
    assert list(balance["failures_by_reason"]) == ["HTTP 500", "invalid JSON"]
    universe = report["datasets"]["universe"]
    assert (universe["rows"], universe["tickers"], universe["completion"]) == (5, 5, None)
    text = format_text(report, 10)
    assert "HTTP 500: 3 (MSFT, NVDA, TSLA)" in text and "invalid JSON: 1 (AMD)" in text


def test_a_unit_both_done_and_failed_in_the_ledger_counts_as_done(tree, tmp_path):
    root, _ = tree
    ledger = tmp_path / "hand-edited.json"
    ledger.write_text(json.dumps({"datasets": {"balance_sheets": {
        "done": {"AAPL": {"rows": 2}, "MSFT": {"rows": 1}},
        "failed": {"AAPL": {"error": "HTTP 500"}, "TSLA": {"error": "HTTP 500"}}}}}))
    balance = check(root, ledger)["datasets"]["balance_sheets"]
    assert balance["completion"]["tickers"] == 3
    assert (balance["completion"]["done"], balance["completion"]["failed"]) == (2, 1)
    assert balance["failed_tickers"] == {"TSLA": "HTTP 500"}


def test_failures_are_cut_in_text_but_all_in_json(tmp_path, capsys):
    root = tmp_path / "data"
    stage(root, BALANCE, [balance_row("AAPL", date(2024, 5, 3))], ["AAPL"])
    publish(root)
    ledger = save_ledger(tmp_path / "progress.json", done=[("balance_sheets", "AAPL", 1)],
                         failed=[("balance_sheets", f"F{index:02d}", f"reason {index:02d}") for index in range(15)])
    code, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger, "--json")
    report = json.loads(out)
    assert code == 0
    assert len(report["datasets"]["balance_sheets"]["failed_tickers"]) == 15
    assert len(report["datasets"]["balance_sheets"]["failures_by_reason"]) == 15
    _, text, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger, "--limit", "3")
    assert "reason 02: 1 (F02)" in text and "reason 03" not in text
    assert "... and 12 more (--json lists all)" in text


def test_coverage_comes_from_footer_statistics_across_row_groups(tmp_path, monkeypatch):
    monkeypatch.setitem(STORED_DATASETS, "balance_sheets", dataclasses.replace(BALANCE, row_group_rows=2))
    root = tmp_path / "data"
    rows = [balance_row("AAPL", date(2024, 4, day), value, cik) for day, value, cik in
            ((1, 1.0, "0000320193"), (2, None, None), (3, 2.0, None), (4, 5.0, None))]
    rows += [balance_row("MSFT", date(2024, 4, 10), 3.0), balance_row("MSFT", date(2024, 5, 10), None)]
    stage(root, BALANCE, rows, ["AAPL", "MSFT"])
    publish(root)
    assert pq.read_metadata(partition(root, 202404)).num_row_groups == 3

    report = check(root, tmp_path / "none.json")
    coverage = report["datasets"]["balance_sheets"]["coverage"]
    assert coverage["total_assets"] == pytest.approx(100 * 4 / 6, abs=0.01)
    assert coverage["cik"] == pytest.approx(100 * 1 / 6, abs=0.01)
    assert coverage["ticker"] == 100.0 and coverage["goodwill"] == 0.0
    assert coverage["tickers"] is None  # a list column: leaf statistics do not count rows
    line = next(line for line in format_text(report, 10).splitlines() if line.startswith("  coverage"))
    full = sum(value == 100.0 for value in coverage.values())
    assert line.startswith(f"  coverage (non-null): {full} of {len(BALANCE.columns)} columns full")
    assert "2 partly filled (lowest: cik 16.7%, total_assets 66.7%); 1 without null counts" in line


def ratio_row(ticker, day, **ratios):
    return {"ticker": ticker, "timeframe": "quarterly", "period_end": date(2024, 3, 30), "filing_date": day,
            "available_date": day, **ratios}


def test_status_prints_each_ratios_coverage_and_flags_those_null_on_more_than_95_percent(tmp_path, capsys):
    ratios = DATASETS["financial_ratios"]
    rows = [ratio_row(f"T{index:02d}", date(2024, 5, 1 + index % 28), current_ratio=1.5,
                      gross_margin=0.4 if index % 4 else None, net_margin=0.1 if index == 0 else None)
            for index in range(40)]
    stage(tmp_path, ratios, rows, sorted({row["ticker"] for row in rows}))
    publish(tmp_path)
    report = check(tmp_path, tmp_path / "none.json")
    entries = {entry["ratio"]: entry for entry in report["datasets"]["financial_ratios"]["ratio_coverage"]}
    assert len(entries) == len(RATIOS)
    assert entries["current_ratio"] == {"ratio": "current_ratio", "non_null_pct": 100.0, "sparse": False, "note": ""}
    assert entries["gross_margin"]["non_null_pct"] == 75.0 and not entries["gross_margin"]["sparse"]
    assert entries["net_margin"]["non_null_pct"] == 2.5 and entries["net_margin"]["sparse"]
    assert entries["oci_to_net_income"]["sparse"] and entries["oci_to_net_income"]["note"] == VX_ONLY
    shares = [entry["non_null_pct"] for entry in report["datasets"]["financial_ratios"]["ratio_coverage"]]
    assert shares == sorted(shares)

    code, out, _ = run_command(capsys, "--data-dir", tmp_path, "--progress-file", save_ledger(tmp_path / "l.json"))
    assert code == 0
    lines = out.splitlines()
    assert (f"  coverage per ratio (share of the 40 rows with a value, lowest first; {len(RATIOS) - 2} of "
            f"{len(RATIOS)} null on more than 95 % of rows, marked !):") in lines
    assert any(line.startswith("  ! oci_to_net_income ") and line.endswith(f"0.0%  {VX_ONLY}") for line in lines)
    assert any(line.startswith("  ! net_margin ") and line.endswith("2.5%  no note in the ratio catalogue says why")
               for line in lines)
    assert "    gross_margin 75.0%" in lines
    assert "    and 1 ratio(s) 100.0%: a value on every row (--json names them)" in lines


def test_status_shows_when_the_last_crawl_ended_and_the_field_coverage_of_its_rows(tree, tmp_path, capsys):
    root, ledger = tree
    stats = {"finish_reason": "finished", "finish_time": "2026-01-02T03:04:05.678+00:00",
             "elapsed_time_seconds": 75.2, "downloader/request_count": 1234,
             "fields_coverage/balance_sheets": {"ticker": "100.0%", "total_assets": "100.0%", "cik": "12.5%",
                                                "goodwill": "0.0%"}}
    (tmp_path / "crawl_stats.json").write_text(json.dumps({"spider": "screener", "stats": stats}))
    report = check(root, ledger)
    assert report["last_crawl"]["field_coverage"] == {
        "balance_sheets": {"ticker": 100.0, "total_assets": 100.0, "cik": 12.5, "goodwill": 0.0}}
    code, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger)
    assert code == 0
    assert (f"Last crawl: screener, finished at 2026-01-02T03:04:05+00:00 after 0:01:15, 1,234 requests; "
            f"every stat in {tmp_path / 'crawl_stats.json'}") in out.splitlines()
    assert ("  coverage in the last crawl's rows: 2 of 4 columns full, 1 empty, 1 partly filled (lowest: cik 12.5%)"
            in out.splitlines())


def test_the_derived_cross_section_is_checked_without_completion(tmp_path):
    stage(tmp_path, LATEST, [{"ticker": "AAPL", "timeframe": "quarterly", "period_end": date(2024, 6, 29),
                              "filing_date": date(2024, 8, 2), "available_date": date(2024, 8, 3)}], ["AAPL"])
    publish(tmp_path)
    latest = check(tmp_path, tmp_path / "none.json")["datasets"]["financial_ratios_latest"]
    assert (latest["files"], latest["rows"], latest["tickers"], latest["completion"]) == (1, 1, 1, None)
    assert not latest["broken"]


def test_an_unreadable_staged_file_breaks_the_dataset(tree):
    root, ledger = tree
    (root / layout.STAGING_DIR / "000000000042.balance_sheets.arrow").write_bytes(b"torn")
    balance = check(root, ledger)["datasets"]["balance_sheets"]
    assert balance["broken"] is True
    assert [item["file"] for item in balance["staged"]["unreadable_files"]] == [
        "_staging/000000000042.balance_sheets.arrow"]


def test_staged_files_of_an_undeclared_dataset_break_the_status(tree):
    root, ledger = tree
    (root / layout.STAGING_DIR / "000000000043.bogus_dataset.arrow").write_bytes(b"")
    report = check(root, ledger)
    assert report["ok"] is False and "bogus_dataset" not in report["datasets"]
    assert report["problems"] == ["1 staged file(s) of the undeclared dataset bogus_dataset: publishing fails on them"]


def test_an_unreadable_ledger_breaks_the_status(tree, tmp_path):
    root, _ = tree
    ledger = tmp_path / "broken.json"
    for text in ("{not json", '{"datasets": {"balance_sheets": {"done": {"AAPL": ["2", null]}}}}'):
        ledger.write_text(text)
        report = check(root, ledger)
        assert report["ok"] is False and report["ledger"]["error"]
        assert report["problems"][0].startswith("ledger unreadable")


def test_datasets_option_selects_and_rejects_unknown_names(tree, capsys):
    root, ledger = tree
    stage(root, UNIVERSE, [{"ticker": "AAPL", "active": True}], WHOLE_TABLE)
    publish(root)
    _, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger, "--datasets", "universe", "--json")
    assert list(json.loads(out)["datasets"]) == ["universe"]
    with pytest.raises(UsageError, match="unknown dataset.*prices"):
        run_command(capsys, "--data-dir", root, "--datasets", "universe,prices")


def test_missing_data_dir_or_progress_file_is_a_usage_error(tree, tmp_path, capsys):
    root, _ = tree
    with pytest.raises(UsageError, match="nowhere does not exist"):
        run_command(capsys, "--data-dir", tmp_path / "nowhere")
    with pytest.raises(UsageError, match="no-such-ledger.json does not exist"):
        run_command(capsys, "--data-dir", root, "--progress-file", tmp_path / "no-such-ledger.json")


def test_an_empty_data_root_says_nothing_is_downloaded(tmp_path, capsys):
    code, out, _ = run_command(capsys, "--data-dir", tmp_path)
    assert code == 0 and "Nothing downloaded yet" in out


def test_data_in_the_v1_layout_names_scrapy_compact_and_exits_1(tree, capsys):
    root, ledger = tree
    old = root / "dividends/year=2024/month=05/ticker=AAPL.parquet"
    old.parent.mkdir(parents=True)
    pq.write_table(pa.table({"ticker": ["AAPL"]}), old)
    code, out, err = run_command(capsys, "--data-dir", root, "--progress-file", ledger)
    assert code == 1 and out == ""
    assert err.strip() == layout.V1_LAYOUT_MESSAGE.format(root=root)
    assert "scrapy compact" in err
    code, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger, "--json")
    assert code == 1 and json.loads(out)["v1_layout"] is True


def test_progress_line_appears_only_after_the_delay():
    stream = io.StringIO()
    progress = progress_module.Progress(stream)
    progress("reading balance_sheets 1/10")
    assert stream.getvalue() == ""
    progress = progress_module.Progress(stream, after=0.0)
    progress("reading balance_sheets 2/10")
    assert stream.getvalue().startswith("status: reading balance_sheets 2/10")


def test_scrapy_status_command_line_exits_1_on_a_broken_dataset(tree):
    root, ledger = tree
    partition(root, 202408).write_bytes(b"garbage")
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCREENER_DATA_DIR", "SCREENER_PROGRESS_FILE", "POLYGON_API_KEY", "POLYGON_BASE_URL")}
    result = subprocess.run([sys.executable, "-m", "scrapy", "status", "--data-dir", str(root),
                             "--progress-file", str(ledger)],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert next(line for line in result.stdout.splitlines() if line.startswith("balance_sheets ")).endswith("BROKEN")
    assert "balance_sheets: 1 unreadable file(s)" in result.stdout


def test_each_dataset_says_the_market_day_an_update_starts_from(tree, capsys):
    root, ledger = tree
    assert check(root, ledger)["datasets"]["balance_sheets"]["updates_from"] is None
    state = Ledger.load(ledger)
    state.set_watermark("balance_sheets", date(2024, 11, 22))
    state.save()
    assert check(root, ledger)["datasets"]["balance_sheets"]["updates_from"] == "2024-11-22"
    _, out, _ = run_command(capsys, "--data-dir", root, "--progress-file", ledger)
    header = next(line for line in out.splitlines() if line.startswith("dataset "))
    balance = next(line for line in out.splitlines() if line.startswith("balance_sheets "))
    assert header.split()[5:7] == ["updates", "from"] and balance.split()[6] == "2024-11-22"
