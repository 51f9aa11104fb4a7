"""The storage contract: layout, per-ticker replace, atomic files, duplicates (DESIGN §3)."""

from datetime import date, datetime, timezone

import pyarrow.dataset as ds
import pytest

from screener_crawler.datasets import DATASETS
from screener_crawler.storage import by_ticker, deduplicate, records_table, unit_files, write_unit

BALANCE = DATASETS["balance_sheets"]
NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


def balance_row(ticker, period_end, filing_date, total_assets=1.0):
    return {"ticker": ticker, "timeframe": "quarterly", "period_end": period_end,
            "filing_date": filing_date, "source": "v1", "total_assets": total_assets}


def read(root, dataset="balance_sheets"):
    return ds.dataset(root / dataset, partitioning="hive").to_table().to_pylist()


def test_unit_is_written_in_hive_partitions_of_its_filing_date(tmp_path):
    write_unit(tmp_path, BALANCE, "AAPL", [
        balance_row("AAPL", date(2024, 3, 30), date(2024, 5, 3)),
        balance_row("AAPL", date(2024, 6, 29), date(2024, 8, 2)),
    ], NOW)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in unit_files(tmp_path, BALANCE, "AAPL"))
    assert files == ["balance_sheets/year=2024/month=05/ticker=AAPL.parquet",
                     "balance_sheets/year=2024/month=08/ticker=AAPL.parquet"]
    rows = read(tmp_path)
    assert sorted((r["year"], r["month"]) for r in rows) == [(2024, 5), (2024, 8)]
    assert all(r["downloaded_at"] == NOW for r in rows)


def test_every_file_has_the_declared_schema(tmp_path):
    write_unit(tmp_path, BALANCE, "AAPL", [balance_row("AAPL", date(2024, 3, 30), date(2024, 5, 3))], NOW)
    write_unit(tmp_path, BALANCE, "MSFT", [balance_row("MSFT", date(2024, 3, 31), date(2024, 4, 25), None)], NOW)
    import pyarrow.parquet as pq
    for path in (tmp_path / "balance_sheets").rglob("*.parquet"):
        assert pq.read_schema(path).remove_metadata() == BALANCE.schema


def test_rewriting_a_unit_replaces_its_files_and_removes_stale_partitions(tmp_path):
    write_unit(tmp_path, BALANCE, "AAPL", [balance_row("AAPL", date(2024, 3, 30), date(2024, 5, 3))], NOW)
    write_unit(tmp_path, BALANCE, "AAPL", [balance_row("AAPL", date(2024, 6, 29), date(2024, 8, 2), 2.0)], NOW)
    rows = read(tmp_path)
    assert [(r["month"], r["total_assets"]) for r in rows] == [(8, 2.0)]
    assert not (tmp_path / "balance_sheets/year=2024/month=05/ticker=AAPL.parquet").exists()


def test_writing_one_ticker_leaves_other_tickers_alone(tmp_path):
    write_unit(tmp_path, BALANCE, "MSFT", [balance_row("MSFT", date(2024, 3, 31), date(2024, 5, 3))], NOW)
    write_unit(tmp_path, BALANCE, "AAPL", [balance_row("AAPL", date(2024, 3, 30), date(2024, 5, 3))], NOW)
    write_unit(tmp_path, BALANCE, "AAPL", [], NOW)
    assert [r["ticker"] for r in read(tmp_path)] == ["MSFT"]


def test_duplicate_natural_keys_are_dropped_and_counted(tmp_path):
    row = balance_row("AAPL", date(2024, 3, 30), date(2024, 5, 3))
    result = write_unit(tmp_path, BALANCE, "AAPL", [row, dict(row), balance_row("AAPL", date(2024, 6, 29), date(2024, 8, 2))], NOW)
    assert (result.rows, result.duplicates, result.files) == (2, 1, 2)
    assert len(read(tmp_path)) == 2


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    write_unit(tmp_path, BALANCE, "AAPL", [balance_row("AAPL", date(2024, 3, 30), date(2024, 5, 3), 1.0)], NOW)
    import screener_crawler.storage as storage

    def disk_full(table, path):
        open(path, "wb").write(b"PAR1 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage, "write_parquet", disk_full)
    with pytest.raises(OSError):
        write_unit(tmp_path, BALANCE, "AAPL", [balance_row("AAPL", date(2024, 3, 30), date(2024, 5, 3), 9.0)], NOW)
    assert [r["total_assets"] for r in read(tmp_path)] == [1.0]
    assert [p.name for p in (tmp_path / "balance_sheets").rglob("*") if p.is_file()] == ["ticker=AAPL.parquet"]


@pytest.mark.parametrize("ticker", ["../x", "a/b", "", "A" * 50, ".."])
def test_no_file_is_written_for_a_ticker_that_is_not_a_safe_name(tmp_path, ticker):
    with pytest.raises(ValueError):
        write_unit(tmp_path, BALANCE, ticker, [], NOW)
    assert not any(tmp_path.rglob("*"))


def test_dataset_without_partition_date_has_one_file_per_ticker(tmp_path):
    related = DATASETS["related_tickers"]
    write_unit(tmp_path, related, "AAPL", [{"ticker": "AAPL", "related_ticker": "MSFT", "rank": 1}], NOW)
    assert (tmp_path / "related_tickers" / "ticker=AAPL.parquet").exists()


def test_market_table_is_one_file_named_after_the_dataset(tmp_path):
    universe = DATASETS["universe"]
    write_unit(tmp_path, universe, None, [{"ticker": "AAPL", "active": True}, {"ticker": "MSFT", "active": True}], NOW)
    assert [r["ticker"] for r in read(tmp_path, "universe")] == ["AAPL", "MSFT"]
    assert [p.name for p in (tmp_path / "universe").iterdir()] == ["universe.parquet"]


def test_by_ticker_cuts_a_mixed_table_into_each_tickers_rows():
    rows = [balance_row(t, date(2024, 3, d), date(2024, 5, d)) for d, t in enumerate("BABCA", start=1)]
    pieces = dict(by_ticker(records_table(BALANCE, rows)))
    assert list(pieces) == ["A", "B", "C"]
    assert {t: sorted(p.column("period_end").to_pylist()) for t, p in pieces.items()} == {
        "A": [date(2024, 3, 2), date(2024, 3, 5)], "B": [date(2024, 3, 1), date(2024, 3, 3)], "C": [date(2024, 3, 4)]}


def test_duplicates_are_dropped_from_a_table_keeping_the_first_in_order():
    first = balance_row("AAPL", date(2024, 3, 30), date(2024, 5, 3), 1.0)
    later = balance_row("AAPL", date(2024, 6, 29), date(2024, 8, 2), 3.0)
    table = records_table(BALANCE, [first, later, dict(first, total_assets=2.0)])
    unique, dropped = deduplicate(BALANCE, table)
    assert dropped == 1
    assert unique.column("total_assets").to_pylist() == [1.0, 3.0]


def test_facts_of_a_unit_count_each_files_nulls_as_its_footer_does(tmp_path):
    """The null counts recorded for each monthly file are that file's own, not its unit's."""
    import pyarrow.parquet as pq

    from screener_crawler import file_facts

    write_unit(tmp_path, BALANCE, "AAPL", [
        balance_row("AAPL", date(2024, 3, 30), date(2024, 5, 3), None),
        balance_row("AAPL", date(2024, 3, 31), date(2024, 5, 9), None),
        balance_row("AAPL", date(2024, 6, 29), date(2024, 8, 2)),
        {**balance_row("AAPL", date(2024, 9, 28), date(2024, 11, 1), None), "cik": "0000320193"},
    ], NOW)
    [facts_file] = file_facts.facts_files(tmp_path, BALANCE)
    facts = {f.relative_path: f for f in file_facts.read_facts(facts_file, BALANCE)}
    assert len(facts) == 3
    for relative, fact in facts.items():
        metadata = pq.ParquetFile(tmp_path / "balance_sheets" / relative).metadata
        footer = [sum(metadata.row_group(g).column(c).statistics.null_count for g in range(metadata.num_row_groups))
                  for c in range(metadata.num_columns)]
        assert fact.rows == metadata.num_rows
        assert [n for n, counted in zip(footer, BALANCE.null_counted) if counted] == \
            [n for n in fact.nulls if n is not None]
    assert facts["year=2024/month=05/ticker=AAPL.parquet"].nulls[BALANCE.columns.index("total_assets")] == 2
    assert facts["year=2024/month=11/ticker=AAPL.parquet"].nulls[BALANCE.columns.index("cik")] == 0
    assert facts["year=2024/month=08/ticker=AAPL.parquet"].nulls[BALANCE.columns.index("cik")] == 1

