"""The storage contract (DESIGN §3): one file per partition holding every ticker, staged units
published by replacing only their tickers' rows or upserting rows by natural key, crash points
in staging and publishing."""

import dataclasses
import errno
import signal
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from screener_crawler.datasets import DATASETS, STORED_DATASETS
from screener_crawler.storage import layout, publishing
from screener_crawler.storage.publishing import publish
from screener_crawler.storage.staging import WHOLE_TABLE, StagingArea, write_staged_file
from screener_crawler.storage.tables import deduplicate, records_table, stamped

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BALANCE = DATASETS["balance_sheets"]
PRICES = DATASETS["daily_prices"]
DIVIDENDS = DATASETS["dividends"]
UNIVERSE = DATASETS["universe"]
NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


def balance(ticker, period_end, filing_date, total_assets=1.0):
    return {"ticker": ticker, "timeframe": "quarterly", "period_end": period_end,
            "filing_date": filing_date, "source": "v1", "total_assets": total_assets}


def bar(ticker, day, close):
    return {"ticker": ticker, "date": day, "close": close}


def stage(root, dataset, records, tickers, scope=None):
    table = stamped(dataset, records_table(dataset, records), NOW)
    return StagingArea(root).stage(dataset, table, tickers, scope)


def upsert(root, dataset, records):
    return StagingArea(root).stage_upsert(dataset, stamped(dataset, records_table(dataset, records), NOW))


def rows(root, dataset="balance_sheets", columns=("ticker", "filing_date", "total_assets")):
    table = ds.dataset(root / dataset, partitioning="hive").to_table()
    return sorted(tuple(row[c] for c in columns) for row in table.to_pylist())


def files(root, dataset="balance_sheets"):
    return sorted(p.relative_to(root).as_posix() for p in (root / dataset).rglob("*.parquet"))


def test_units_are_published_one_file_per_partition_every_ticker_sorted(tmp_path):
    stage(tmp_path, BALANCE, [balance("MSFT", date(2024, 3, 31), date(2024, 5, 3)),
                              balance("MSFT", date(2024, 6, 30), date(2024, 8, 1))], ["MSFT"])
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2))], ["AAPL"])
    publish(tmp_path)
    assert files(tmp_path) == ["balance_sheets/year=2024/month=05/part-0.parquet",
                               "balance_sheets/year=2024/month=08/part-0.parquet"]
    may = pq.ParquetFile(tmp_path / files(tmp_path)[0])
    assert may.read().column("ticker").to_pylist() == ["AAPL", "MSFT"]
    assert may.schema_arrow.remove_metadata() == BALANCE.schema
    column = may.metadata.row_group(0).column(0)
    assert column.compression == "ZSTD" and column.statistics.has_min_max
    assert not list((tmp_path / "_staging").iterdir())


def test_a_publish_of_some_datasets_leaves_the_others_staged(tmp_path):
    stage(tmp_path, BALANCE, [balance("MSFT", date(2024, 3, 31), date(2024, 5, 3))], ["MSFT"])
    stage(tmp_path, PRICES, [bar("MSFT", date(2024, 5, 3), 10.0)], ["MSFT"])
    report = publish(tmp_path, datasets=["daily_prices"])
    assert report.staged_files == 1
    assert files(tmp_path, "daily_prices") == ["daily_prices/year=2024/month=05/part-0.parquet"]
    assert not (tmp_path / "balance_sheets").exists()
    assert [staged.dataset for staged in StagingArea(tmp_path).files()] == ["balance_sheets"]
    publish(tmp_path)
    assert rows(tmp_path) == [("MSFT", date(2024, 5, 3), 1.0)]


def test_staging_is_outside_every_dataset_and_not_parquet(tmp_path):
    staged = stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2))], ["AAPL"])
    assert staged.path.parent == tmp_path / "_staging" and staged.path.suffix == ".arrow"
    assert not (tmp_path / "balance_sheets").exists()


def test_a_replaced_ticker_keeps_no_rows_in_partitions_it_left_and_others_keep_theirs(tmp_path):
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2)),
                              balance("MSFT", date(2024, 3, 31), date(2024, 5, 3), 7.0)], ["AAPL", "MSFT"])
    publish(tmp_path)
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 6, 29), date(2024, 8, 2), 2.0)], ["AAPL"])
    publish(tmp_path)
    assert rows(tmp_path) == [("AAPL", date(2024, 8, 2), 2.0), ("MSFT", date(2024, 5, 3), 7.0)]


def test_an_empty_unit_removes_the_ticker_and_a_partition_left_empty_goes(tmp_path):
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2)),
                              balance("MSFT", date(2024, 6, 30), date(2024, 8, 1))], ["AAPL", "MSFT"])
    publish(tmp_path)
    stage(tmp_path, BALANCE, [], ["AAPL"])
    publish(tmp_path)
    assert files(tmp_path) == ["balance_sheets/year=2024/month=08/part-0.parquet"]
    assert not (tmp_path / "balance_sheets/year=2024/month=05").exists()


def test_the_newest_staged_file_of_a_ticker_wins(tmp_path):
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2), 1.0)], ["AAPL"])
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 6, 29), date(2024, 8, 2), 2.0)], ["AAPL"])
    publish(tmp_path)
    assert rows(tmp_path) == [("AAPL", date(2024, 8, 2), 2.0)]


def test_a_month_of_grouped_prices_replaces_its_tickers_in_that_month_only(tmp_path):
    stage(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 1), 1.0), bar("AAPL", date(2024, 6, 3), 2.0),
                             bar("MSFT", date(2024, 5, 1), 3.0)], ["AAPL", "MSFT"])
    publish(tmp_path)
    stage(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 2), 9.0)], ["AAPL", "MSFT"], scope=202405)
    publish(tmp_path)
    assert rows(tmp_path, "daily_prices", ("ticker", "date", "close")) == [
        ("AAPL", date(2024, 5, 2), 9.0), ("AAPL", date(2024, 6, 3), 2.0)]


def test_staged_files_opened_for_a_publish_share_their_tickers_and_read_each_month_when_asked(tmp_path):
    """A publish opens every staged file at once (a grouped-daily month replaces every ticker
    of the universe): their headers share one string per ticker, and no rows are read before
    a partition asks for them."""
    names = [f"T{number}" for number in range(3)]
    may = stage(tmp_path, PRICES, [bar(ticker, date(2024, 5, 1), 1.0) for ticker in names], names, scope=202405)
    june = stage(tmp_path, PRICES, [bar(ticker, date(2024, 6, 3), 2.0) for ticker in names[:2]], names, scope=202406)
    first, second = publishing.StagedReader(may), publishing.StagedReader(june)
    assert first.header.tickers == second.header.tickers == tuple(names)
    assert all(a is b for a, b in zip(first.header.tickers, second.header.tickers))
    assert (first.rows, second.rows) == (0, 0)
    assert first.month(202406) is None and first.month(202405).num_rows == 3
    assert second.month(202406).num_rows == 2 and (first.rows, second.rows) == (3, 2)


def test_the_universe_is_replaced_whole(tmp_path):
    listed = [{"ticker": "AAPL", "active": True}, {"ticker": "OLD", "active": False}]
    stage(tmp_path, UNIVERSE, listed, WHOLE_TABLE)
    publish(tmp_path)
    stage(tmp_path, UNIVERSE, listed[:1], WHOLE_TABLE)
    publish(tmp_path)
    assert files(tmp_path, "universe") == ["universe/universe.parquet"]
    assert pq.read_table(tmp_path / "universe/universe.parquet").column("ticker").to_pylist() == ["AAPL"]


def test_deduplicate_keeps_the_first_of_each_natural_key():
    table = records_table(BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2), 1.0),
                                    balance("AAPL", date(2024, 3, 30), date(2024, 5, 2), 2.0)])
    unique, dropped = deduplicate(BALANCE, table)
    assert dropped == 1 and unique.column("total_assets").to_pylist() == [1.0]


def test_a_listing_repeated_keeps_its_newest_last_updated_and_a_reused_symbol_keeps_both_companies():
    def stamp(day):
        return datetime(2020, 1, day, tzinfo=timezone.utc)

    rows = [
        {"ticker": "OLD", "cik": "1", "composite_figi": "F1", "delisted_utc": stamp(9), "last_updated_utc": stamp(2)},
        {"ticker": "OLD", "cik": "1", "composite_figi": "F1", "delisted_utc": stamp(9), "last_updated_utc": stamp(9)},
        {"ticker": "OLD", "cik": "2", "composite_figi": "F2", "delisted_utc": stamp(5), "last_updated_utc": stamp(5)},
    ]
    unique, dropped = deduplicate(DATASETS["universe"], records_table(DATASETS["universe"], rows))
    assert dropped == 1
    assert sorted(unique.to_pydict()["last_updated_utc"]) == [stamp(5), stamp(9)]


def many_units(root):
    """Two publishes' worth of staged units over several partitions and tickers."""
    stage(root, BALANCE, [balance(t, date(2023, m, 28), date(2023, m + 1, 5), float(m))
                          for t in ("AAPL", "MSFT", "NVDA") for m in range(1, 9)], ["AAPL", "MSFT", "NVDA"])
    publish(root)
    stage(root, BALANCE, [balance("MSFT", date(2023, m, 28), date(2023, m + 2, 5), 10.0 * m) for m in range(3, 11)],
          ["MSFT"])
    stage(root, BALANCE, [], ["NVDA"])
    stage(root, BALANCE, [balance("TSLA", date(2023, 1, 28), date(2023, 2, 5))], ["TSLA"])


def units_and_upserts(root):
    """``many_units``, then upserts among ticker replacements: a restated filing and a new one of
    AAPL, a filing of MSFT in a month not yet published, NVDA's rows back after its empty unit,
    and TSLA's upserted row replaced by a newer unit of TSLA."""
    many_units(root)
    upsert(root, BALANCE, [balance("AAPL", date(2023, 2, 28), date(2023, 3, 5), 99.0),
                           balance("AAPL", date(2023, 9, 28), date(2023, 10, 5), 9.0),
                           balance("MSFT", date(2023, 12, 28), date(2024, 2, 5), 12.0),
                           balance("NVDA", date(2023, 4, 28), date(2023, 5, 5), 4.0),
                           balance("TSLA", date(2023, 1, 28), date(2023, 2, 5), 5.0)])
    stage(root, BALANCE, [balance("TSLA", date(2023, 1, 28), date(2023, 2, 5), 6.0),
                          balance("TSLA", date(2023, 3, 28), date(2023, 4, 5), 6.0)], ["TSLA"])
    upsert(root, BALANCE, [balance("AAPL", date(2023, 2, 28), date(2023, 3, 5), 100.0)])


@pytest.mark.parametrize("units", [many_units, units_and_upserts])
@pytest.mark.parametrize("crash_after", [0, 1, 3, 6])
def test_a_publish_killed_after_any_partition_ends_like_a_clean_one_when_redone(tmp_path, monkeypatch, crash_after,
                                                                                 units):
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    units(clean)
    publish(clean)
    units(crashed)
    written = []
    real_write = layout.write_partition_file

    def write_then_die(path, table, row_group_rows):
        if len(written) == crash_after:
            raise KeyboardInterrupt("killed")
        written.append(path)
        real_write(path, table, row_group_rows)

    monkeypatch.setattr(publishing, "write_partition_file", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        publish(crashed)
    monkeypatch.setattr(publishing, "write_partition_file", real_write)
    assert StagingArea(crashed).files()
    publish(crashed)
    assert rows(crashed) == rows(clean)
    assert files(crashed) == files(clean)


def test_a_publish_of_upserts_killed_by_sigkill_ends_like_a_clean_one_when_redone(tmp_path):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    units_and_upserts(clean)
    publish(clean)
    units_and_upserts(killed)
    publish_then_die = ("import sys; from tests.kill_in_publish import kill_in_publish; kill_in_publish(4); "
                        "from screener_crawler.storage.publishing import publish; publish(sys.argv[1])")
    died = subprocess.run([sys.executable, "-c", publish_then_die, str(killed)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert died.returncode == -signal.SIGKILL, died.stderr[-3000:]
    assert StagingArea(killed).files()
    publish(killed)
    assert rows(killed) == rows(clean)
    assert files(killed) == files(clean)
    assert not list(killed.rglob(".*.tmp"))


@pytest.mark.parametrize("units", [many_units, units_and_upserts])
def test_a_crash_while_staged_files_are_deleted_leaves_the_newest_which_republish_the_same(tmp_path, units):
    units(tmp_path)
    area = StagingArea(tmp_path)
    staged = area.files()
    expected_area = tmp_path / "expected"
    units(expected_area)
    publish(expected_area)
    with publishing.PartitionWriter() as writer:
        publishing.publish_dataset(tmp_path, BALANCE, staged, publishing.PublishReport(), writer)
    area.remove(staged[:2])
    publish(tmp_path)
    assert rows(tmp_path) == rows(expected_area)


def test_a_half_written_staged_file_is_never_seen(tmp_path, monkeypatch):
    import pyarrow.ipc as ipc

    def broken(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(ipc, "new_file", broken)
    with pytest.raises(OSError):
        stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2))], ["AAPL"])
    assert StagingArea(tmp_path).files() == []
    assert list((tmp_path / "_staging").iterdir()) == []


def test_v1_layout_files_are_recognised(tmp_path):
    assert not layout.has_v1_layout(tmp_path)
    old = tmp_path / "balance_sheets/year=2024/month=05/ticker=AAPL.parquet"
    old.parent.mkdir(parents=True)
    pq.write_table(pa.table({"ticker": ["AAPL"]}), old)
    assert layout.has_v1_layout(tmp_path)


def test_an_empty_unit_of_a_dataset_without_partitions_removes_the_ticker(tmp_path):
    related = DATASETS["related_tickers"]
    stage(tmp_path, related, [{"ticker": "AAPL", "related_ticker": "MSFT", "rank": 1},
                              {"ticker": "ZZ", "related_ticker": "AAPL", "rank": 1}], ["AAPL", "ZZ"])
    publish(tmp_path)
    stage(tmp_path, related, [], ["ZZ"])
    publish(tmp_path)
    assert rows(tmp_path, "related_tickers", ("ticker", "related_ticker")) == [("AAPL", "MSFT")]


def test_an_upsert_adds_its_rows_to_a_month_and_every_other_row_and_month_stays(tmp_path):
    stage(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 1), 1.0), bar("MSFT", date(2024, 5, 1), 2.0),
                             bar("AAPL", date(2024, 6, 3), 3.0)], ["AAPL", "MSFT"])
    publish(tmp_path)
    june = layout.partition_path(tmp_path, PRICES, 202406).stat()
    upsert(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 2), 4.0), bar("NVDA", date(2024, 5, 2), 5.0)])
    publish(tmp_path)
    assert rows(tmp_path, "daily_prices", ("ticker", "date", "close")) == [
        ("AAPL", date(2024, 5, 1), 1.0), ("AAPL", date(2024, 5, 2), 4.0), ("AAPL", date(2024, 6, 3), 3.0),
        ("MSFT", date(2024, 5, 1), 2.0), ("NVDA", date(2024, 5, 2), 5.0)]
    after = layout.partition_path(tmp_path, PRICES, 202406).stat()
    assert (after.st_ino, after.st_mtime_ns) == (june.st_ino, june.st_mtime_ns)


def test_an_upsert_replaces_the_row_of_its_key_and_the_tickers_other_rows_stay(tmp_path):
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2), 1.0),
                              balance("AAPL", date(2024, 6, 29), date(2024, 8, 2), 2.0)], ["AAPL"])
    publish(tmp_path)
    upsert(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2), 9.0),
                               balance("AAPL", date(2024, 3, 30), date(2024, 5, 20), 5.0)])
    publish(tmp_path)
    assert rows(tmp_path) == [("AAPL", date(2024, 5, 2), 9.0), ("AAPL", date(2024, 5, 20), 5.0),
                              ("AAPL", date(2024, 8, 2), 2.0)]


def test_an_upsert_into_a_month_not_yet_published_creates_it(tmp_path):
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2))], ["AAPL"])
    publish(tmp_path)
    upsert(tmp_path, BALANCE, [balance("MSFT", date(2024, 9, 28), date(2024, 11, 1), 3.0)])
    publish(tmp_path)
    assert files(tmp_path) == ["balance_sheets/year=2024/month=05/part-0.parquet",
                               "balance_sheets/year=2024/month=11/part-0.parquet"]
    assert rows(tmp_path) == [("AAPL", date(2024, 5, 2), 1.0), ("MSFT", date(2024, 11, 1), 3.0)]


def test_an_upsert_staged_after_a_ticker_replacement_wins_for_its_keys_only(tmp_path):
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2), 1.0),
                              balance("AAPL", date(2024, 6, 29), date(2024, 8, 2), 2.0)], ["AAPL"])
    upsert(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2), 9.0)])
    publish(tmp_path)
    assert rows(tmp_path) == [("AAPL", date(2024, 5, 2), 9.0), ("AAPL", date(2024, 8, 2), 2.0)]


def test_a_ticker_replacement_staged_after_an_upsert_replaces_its_rows_of_that_ticker(tmp_path):
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2), 1.0),
                              balance("MSFT", date(2024, 3, 30), date(2024, 5, 3), 1.0)], ["AAPL", "MSFT"])
    publish(tmp_path)
    upsert(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2), 9.0),
                               balance("AAPL", date(2024, 9, 28), date(2024, 11, 1), 3.0),
                               balance("MSFT", date(2024, 3, 30), date(2024, 5, 3), 7.0)])
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, 3, 30), date(2024, 5, 2), 2.0)], ["AAPL"])
    publish(tmp_path)
    assert rows(tmp_path) == [("AAPL", date(2024, 5, 2), 2.0), ("MSFT", date(2024, 5, 3), 7.0)]
    assert files(tmp_path) == ["balance_sheets/year=2024/month=05/part-0.parquet"]


def test_upserts_and_grouped_months_take_effect_in_staging_order(tmp_path):
    stage(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 1), 1.0), bar("AAPL", date(2024, 5, 2), 2.0)], ["AAPL"],
          scope=202405)
    upsert(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 2), 8.0), bar("AAPL", date(2024, 6, 3), 6.0)])
    stage(tmp_path, PRICES, [bar("AAPL", date(2024, 6, 3), 4.0), bar("AAPL", date(2024, 6, 4), 5.0)], ["AAPL"],
          scope=202406)
    upsert(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 1), 7.0)])
    publish(tmp_path)
    assert rows(tmp_path, "daily_prices", ("ticker", "date", "close")) == [
        ("AAPL", date(2024, 5, 1), 7.0), ("AAPL", date(2024, 5, 2), 8.0), ("AAPL", date(2024, 6, 3), 4.0),
        ("AAPL", date(2024, 6, 4), 5.0)]


def test_the_newest_upsert_of_a_key_wins_within_a_publish_and_across_publishes(tmp_path):
    upsert(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 1), 1.0)])
    upsert(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 1), 2.0)])
    publish(tmp_path)
    assert rows(tmp_path, "daily_prices", ("ticker", "date", "close")) == [("AAPL", date(2024, 5, 1), 2.0)]
    upsert(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 1), 3.0)])
    publish(tmp_path)
    assert rows(tmp_path, "daily_prices", ("ticker", "date", "close")) == [("AAPL", date(2024, 5, 1), 3.0)]


def test_an_upsert_file_keeps_one_row_per_key_by_the_datasets_rule(tmp_path):
    upsert(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 1), 1.0), bar("AAPL", date(2024, 5, 1), 2.0)])
    listing = {"ticker": "OLD", "cik": "1", "composite_figi": "F1", "delisted_utc": None}
    upsert(tmp_path, UNIVERSE, [{**listing, "name": "newer", "last_updated_utc": datetime(2020, 1, 9, tzinfo=timezone.utc)},
                                {**listing, "name": "older", "last_updated_utc": datetime(2020, 1, 2, tzinfo=timezone.utc)}])
    publish(tmp_path)
    assert rows(tmp_path, "daily_prices", ("ticker", "date", "close")) == [("AAPL", date(2024, 5, 1), 1.0)]
    assert pq.read_table(tmp_path / "universe/universe.parquet").column("name").to_pylist() == ["newer"]


def test_an_upsert_matches_a_key_whose_columns_are_null(tmp_path):
    def dividend(paid_by):
        return {"ticker": "AAPL", "id": paid_by, "ex_dividend_date": date(2024, 5, 10), "cash_amount": 0.25,
                "pay_date": None, "source": "v3"}

    stage(tmp_path, DIVIDENDS, [dividend("first")], ["AAPL"])
    publish(tmp_path)
    upsert(tmp_path, DIVIDENDS, [dividend("restated")])
    publish(tmp_path)
    assert rows(tmp_path, "dividends", ("ticker", "id", "pay_date")) == [("AAPL", "restated", None)]


def test_an_upsert_file_says_so_and_names_the_tickers_its_rows_touch(tmp_path):
    upserted = upsert(tmp_path, PRICES, [bar("NVDA", date(2024, 5, 2), 1.0), bar("AAPL", date(2024, 6, 3), 2.0),
                                         bar("NVDA", date(2024, 6, 3), 3.0)])
    replacing = stage(tmp_path, PRICES, [bar("AAPL", date(2024, 5, 2), 1.0)], ["AAPL", "MSFT"])
    header = StagingArea.header(upserted)
    assert (header.upsert, header.tickers, header.scope, header.months) == (True, ("AAPL", "NVDA"), None,
                                                                           (202405, 202406))
    assert StagingArea.header(replacing).upsert is False


def test_a_file_staged_before_upserts_existed_reads_as_replacing_its_tickers(tmp_path):
    table = stamped(PRICES, records_table(PRICES, [bar("AAPL", date(2024, 5, 2), 1.0)]), NOW)
    metadata = {"screener.dataset": "daily_prices", "screener.tickers": '["AAPL"]', "screener.scope": "null",
                "screener.months": "[202405]"}
    path = tmp_path / "_staging" / "000000000001.daily_prices.arrow"
    path.parent.mkdir()
    write_staged_file(path, PRICES.schema.with_metadata(metadata), [(202405, table)])
    header = StagingArea.header(StagingArea(tmp_path).files()[0])
    assert (header.upsert, header.tickers, header.scope) == (False, ("AAPL",), None)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("bars", [1, 50_000])
def test_writing_a_staged_file_on_a_full_disk_raises_enospc_however_small_the_file(bars):
    """Staged files are written through a buffer: a file smaller than it only reaches the disk
    when it closes, and the staging pipeline must still see ENOSPC (``DISK_FULL``)."""
    table = stamped(PRICES, records_table(PRICES, [bar("AAPL", date(2024, 5, 2), float(i)) for i in range(bars)]), NOW)
    with pytest.raises(OSError) as raised:
        write_staged_file(Path("/dev/full"), PRICES.schema, [(202405, table)])
    assert raised.value.errno == errno.ENOSPC


def test_every_partitioned_dataset_can_be_upserted_as_its_key_holds_its_partition_date():
    assert [name for name, dataset in STORED_DATASETS.items()
            if dataset.partition_date and dataset.partition_date not in dataset.natural_key] == []
    keyless = dataclasses.replace(PRICES, natural_key=("ticker", "close"))
    with pytest.raises(ValueError, match="partition date"):
        StagingArea("/nonexistent").stage_upsert(keyless, PRICES.schema.empty_table())


@pytest.mark.parametrize("every_seconds, releases", [(0.0, 3 + 1), (3600.0, 1)])
def test_a_publish_gives_freed_memory_back_after_a_write_at_most_so_often(tmp_path, monkeypatch, every_seconds,
                                                                          releases):
    stage(tmp_path, BALANCE, [balance("AAPL", date(2024, month, 20), date(2024, month, 28)) for month in (1, 2, 3)],
          ["AAPL"])
    released = []
    pool = pa.default_memory_pool()

    class CountingPool:
        def release_unused(self):
            released.append(True)
            pool.release_unused()

    monkeypatch.setattr(pa, "default_memory_pool", CountingPool)
    monkeypatch.setattr(publishing, "RELEASE_EVERY_SECONDS", every_seconds)
    report = publish(tmp_path)
    assert report.partitions_written["balance_sheets"] == 3
    assert len(released) == releases
