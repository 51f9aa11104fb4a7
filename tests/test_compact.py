"""``scrapy compact``: a root in the v1 layout (one ``ticker=<T>.parquet`` file per dataset, month
and ticker) converted to one file per partition, every row kept with its ``downloaded_at``;
killed at any point and run again, it ends as a clean run does."""

import os
import pathlib
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from screener_crawler.datasets import DATASETS, DERIVED_DATASETS, DOWNLOADED_AT
from screener_crawler.storage import compaction, publishing
from screener_crawler.storage.compaction import compact
from screener_crawler.storage.layout import has_v1_layout
from screener_crawler.storage.publishing import publish
from screener_crawler.storage.staging import StagingArea
from screener_crawler.storage.tables import records_table, split_by_month, stamped

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BALANCE = DATASETS["balance_sheets"]
PRICES = DATASETS["daily_prices"]
RELATED = DATASETS["related_tickers"]
UNIVERSE = DATASETS["universe"]
LATEST = DERIVED_DATASETS["financial_ratios_latest"]
CONVERTED = ("universe", "balance_sheets", "daily_prices", "related_tickers", "financial_ratios_latest")
TICKERS = ("AAPL", "BRK.B", "MSFT", "ZZ")
T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


def stamp(ticker, offset=0):
    """Each ticker's download at its own time, so that keeping ``downloaded_at`` is checked."""
    return T0 + timedelta(hours=TICKERS.index(ticker) if ticker in TICKERS else 9, minutes=offset)


def balance_rows(ticker, quarters=5, value=1.0):
    rows = []
    for quarter in range(quarters):
        period_end = date(2023, 3, 31) + timedelta(days=91 * quarter)
        rows.append({"ticker": ticker, "timeframe": "quarterly", "period_end": period_end,
                     "filing_date": period_end + timedelta(days=35), "source": "v1",
                     "total_assets": value * (quarter + 1), "tickers": [ticker]})
    return rows


def price_rows(ticker, days=70, close=10.0):
    start = date(2024, 11, 20)
    return [{"ticker": ticker, "date": start + timedelta(days=day), "close": close + day, "volume": 1e6,
             "adjusted": True} for day in range(days) if (start + timedelta(days=day)).weekday() < 5]


def related_rows(ticker):
    return [{"ticker": ticker, "related_ticker": other, "rank": rank}
            for rank, other in enumerate(t for t in TICKERS if t != ticker)]


def write_v1_unit(root, dataset, ticker, records, downloaded_at):
    """A unit as the v1 writer left it: one uncompressed file per month (or one per ticker)."""
    table = stamped(dataset, records_table(dataset, records), downloaded_at)
    base = Path(root) / dataset.name
    keys = [(column, "ascending") for column in dataset.natural_key]
    for month, rows in split_by_month(dataset, table):
        folder = base if dataset.partition_date is None else base / f"year={month // 100:04d}/month={month % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows.sort_by(keys), folder / f"ticker={ticker}.parquet", use_dictionary=False,
                       compression="none")


def write_v1_table(path, dataset, records, downloaded_at):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(stamped(dataset, records_table(dataset, records), downloaded_at), path, compression="none")


def build_v1_root(root, tickers=TICKERS):
    """Four tickers in the v1 layout: statements over five months, prices over four, related
    tickers (one unit empty), the universe, the v1 cross-section file and the v1 bookkeeping."""
    for ticker in tickers:
        write_v1_unit(root, BALANCE, ticker, balance_rows(ticker), stamp(ticker))
        write_v1_unit(root, PRICES, ticker, price_rows(ticker, close=10.0 * (1 + TICKERS.index(ticker))),
                      stamp(ticker, 5))
        write_v1_unit(root, RELATED, ticker, [] if ticker == "ZZ" else related_rows(ticker), stamp(ticker, 7))
    write_v1_table(root / "universe/universe.parquet", UNIVERSE,
                   [{"ticker": ticker, "active": ticker != "ZZ", "name": f"{ticker} Inc"} for ticker in tickers], T0)
    latest = [{"ticker": ticker, "timeframe": "quarterly", "period_end": date(2024, 3, 31),
               "filing_date": date(2024, 5, 5), "available_date": date(2024, 5, 6), "source": "v1"}
              for ticker in tickers]
    write_v1_table(root / "financial_ratios_latest/financial_ratios_latest.parquet", LATEST, latest, T0)
    (root / "_file_facts/balance_sheets").mkdir(parents=True)
    (root / "_file_facts/balance_sheets/ticker=AAPL.json").write_text("{}")
    (root / ".ratio_inputs").mkdir()
    (root / ".ratio_inputs/AAPL.arrow").write_bytes(b"cache")
    return root


def table_of(root, name, v1=False):
    """A dataset's rows as a reader sees them (pyarrow, Hive partitioning); only its published
    files, or (``v1``) every file under its folder."""
    path = Path(root) / name
    source = path if v1 else [str(p) for p in sorted(path.rglob("*.parquet")) if not p.name.startswith("ticker=")]
    table = ds.dataset(source, format="parquet", partitioning=ds.partitioning(flavor="hive"),
                       partition_base_dir=str(path)).to_table()
    return table.drop_columns([column for column in ("year", "month") if column in table.schema.names])


def sorted_rows(table):
    """Every row, every column (``downloaded_at`` included), in one order."""
    return sorted((tuple(sorted(row.items())) for row in table.to_pylist()), key=repr)


def v1_rows(root):
    """Per dataset, the rows of its v1 files, read before the conversion."""
    return {name: sorted_rows(table_of(root, name, v1=True)) for name in CONVERTED}


def snapshot(root):
    """Relative path -> bytes of every file under ``root``: two runs ending alike."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(Path(root).rglob("*"))
            if path.is_file()}


def data_files(root):
    return sorted(path.relative_to(root).as_posix() for path in Path(root).rglob("*") if path.is_file())


@pytest.fixture
def v1_root(tmp_path):
    return build_v1_root(tmp_path / "v1")


def test_every_v1_row_is_published_with_its_download_time_and_no_v1_file_is_left(v1_root):
    before = v1_rows(v1_root)
    report = compact(v1_root, batch_tickers=3)
    assert report.ok and report.found_v1
    for name in CONVERTED:
        assert sorted_rows(table_of(v1_root, name)) == before[name], name
    assert not has_v1_layout(v1_root)
    assert data_files(v1_root) == [
        *[f"balance_sheets/year={year}/month={month}/part-0.parquet"
          for year, month in [("2023", "05"), ("2023", "08"), ("2023", "11"), ("2024", "02"), ("2024", "05")]],
        *[f"daily_prices/year={year}/month={month}/part-0.parquet"
          for year, month in [("2024", "11"), ("2024", "12"), ("2025", "01")]],
        "financial_ratios_latest/part-0.parquet", "related_tickers/part-0.parquet", "universe/universe.parquet"]
    may = pq.ParquetFile(v1_root / "balance_sheets/year=2023/month=05/part-0.parquet")
    assert may.read().column("ticker").to_pylist() == list(TICKERS)
    assert may.schema_arrow.remove_metadata() == BALANCE.schema
    assert may.metadata.row_group(0).column(0).compression == "ZSTD"
    balance = report.datasets["balance_sheets"]
    assert (balance.v1_files, balance.v1_rows, balance.v2_files, balance.v2_rows) == (20, 20, 5, 20)
    assert report.datasets["related_tickers"].v2_rows == 9
    assert report.removed_bookkeeping == ["_file_facts", ".ratio_inputs"]


def test_pyarrow_polars_and_duckdb_read_every_converted_dataset(v1_root):
    import duckdb
    import polars as pl

    before = v1_rows(v1_root)
    compact(v1_root)
    for name in CONVERTED:
        dataset = DATASETS.get(name) or DERIVED_DATASETS[name]
        table = ds.dataset(v1_root / name, partitioning="hive").to_table()
        assert [table.schema.field(f.name).type for f in dataset.schema] == dataset.schema.types, name
        assert table.num_rows == len(before[name]), name
        files = f"{v1_root / name}{'/*/*' if dataset.partition_date else ''}/*.parquet"
        assert pl.scan_parquet(files, hive_partitioning=True).collect().height == table.num_rows, name
        assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{files}', hive_partitioning = true)").fetchall() == [(
            table.num_rows,)], name


def test_a_second_run_finds_nothing_and_changes_nothing(v1_root):
    compact(v1_root)
    converted = snapshot(v1_root)
    report = compact(v1_root)
    assert not report.found_v1 and report.ok and not report.datasets
    assert snapshot(v1_root) == converted


def test_the_same_rows_whatever_the_batch_size(tmp_path):
    one, many = build_v1_root(tmp_path / "one"), build_v1_root(tmp_path / "many")
    compact(one, batch_tickers=1)
    compact(many, batch_tickers=500)
    assert {name: sorted_rows(table_of(one, name)) for name in CONVERTED} == \
           {name: sorted_rows(table_of(many, name)) for name in CONVERTED}


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no ``except Exception`` catches it."""


def kill_at(monkeypatch, target, attribute, call):
    """Make ``target.attribute`` die on its ``call``-th call (counting from 1)."""
    real = getattr(target, attribute)
    calls = []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise Killed(f"{attribute} #{call}")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, attribute, dying)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    """The rows of the v1 root, and the files a run that is not killed leaves."""
    clean = build_v1_root(tmp_path_factory.mktemp("clean"))
    rows = v1_rows(clean)
    compact(clean, batch_tickers=2)
    return rows, data_files(clean)


CRASH_POINTS = [
    # while staging the batches of a dataset
    (StagingArea, "stage", 1), (StagingArea, "stage", 3), (StagingArea, "stage", 6),
    # in a publish, after some partitions are written
    (publishing, "write_partition_file", 1), (publishing, "write_partition_file", 4),
    (publishing, "write_partition_file", 9),
    # after a publish, before or while the v1 files go (11, 23 and 39: some of a ticker's files
    # are deleted, others not, so only the journal says that they are all published)
    (compaction, "publish", 3), (compaction, "write_bytes_atomically", 2),
    (pathlib.Path, "unlink", 3), (pathlib.Path, "unlink", 11), (pathlib.Path, "unlink", 23),
    (pathlib.Path, "unlink", 33), (pathlib.Path, "unlink", 39),
    (compaction, "remove_bookkeeping", 1),
]


@pytest.mark.parametrize("target, attribute, call", CRASH_POINTS,
                         ids=[f"{attribute}-{call}" for _, attribute, call in CRASH_POINTS])
def test_a_run_killed_at_any_point_then_run_again_ends_like_a_clean_run(tmp_path, monkeypatch, clean_run, target,
                                                                           attribute, call):
    expected_rows, expected_files = clean_run
    killed = build_v1_root(tmp_path / "killed")
    with monkeypatch.context() as patch:
        kill_at(patch, target, attribute, call)
        with pytest.raises(Killed):
            compact(killed, batch_tickers=2)
    report = compact(killed, batch_tickers=2)
    assert report.ok
    for name in CONVERTED:
        assert sorted_rows(table_of(killed, name)) == expected_rows[name], name
    assert data_files(killed) == expected_files
    assert not has_v1_layout(killed)


def test_a_run_killed_with_some_of_a_tickers_v1_files_deleted_only_finishes_the_deletion(v1_root, monkeypatch):
    before = v1_rows(v1_root)
    real_unlink = pathlib.Path.unlink
    deleted = []

    def unlink(path, *args, **kwargs):
        if path.name == "ticker=BRK.B.parquet" and "balance_sheets" in path.parts:
            if len(deleted) == 2:
                raise Killed("third of BRK.B's five balance sheet files")
            deleted.append(path)
        return real_unlink(path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(pathlib.Path, "unlink", unlink)
        with pytest.raises(Killed):
            compact(v1_root)
    assert len(list((v1_root / "balance_sheets").rglob("ticker=BRK.B.parquet"))) == 3
    assert (v1_root / "_compact/balance_sheets.json").exists()
    report = compact(v1_root)
    assert report.ok and report.datasets["balance_sheets"].resumed
    for name in CONVERTED:
        assert sorted_rows(table_of(v1_root, name)) == before[name], name
    assert not (v1_root / "_compact").exists()


def test_killed_twice_in_a_row_then_run_again_loses_nothing(tmp_path, monkeypatch):
    root = build_v1_root(tmp_path / "v1")
    expected_rows = v1_rows(root)
    for target, attribute, call in [(pathlib.Path, "unlink", 20), (publishing, "write_partition_file", 2)]:
        with monkeypatch.context() as patch:
            kill_at(patch, target, attribute, call)
            with pytest.raises(Killed):
                compact(root, batch_tickers=2)
    assert compact(root).ok
    for name in CONVERTED:
        assert sorted_rows(table_of(root, name)) == expected_rows[name], name


def test_temporaries_of_a_killed_run_are_removed(v1_root):
    month = v1_root / "balance_sheets/year=2023/month=05"
    (month / ".ticker=AAPL.parquet.123-456.tmp").write_bytes(b"half")
    (v1_root / "_staging").mkdir()
    (v1_root / "_staging/.000000000001.balance_sheets.arrow.1-2.tmp").write_bytes(b"half")
    report = compact(v1_root)
    assert report.removed_temporaries == 2 and report.ok
    assert not list(v1_root.rglob("*.tmp"))


def build_mixed_root(root):
    """Published rows of NVDA (v2 only), MSFT (newer than its v1 files) and AAPL (older than its
    v1 files); v1 files of AAPL and MSFT."""
    area = StagingArea(root)
    for ticker, downloaded_at, value in [("NVDA", T0, 7.0), ("MSFT", T0 + timedelta(days=30), 99.0),
                                         ("AAPL", T0 - timedelta(days=30), 55.0)]:
        table = stamped(BALANCE, records_table(BALANCE, balance_rows(ticker, quarters=2, value=value)),
                        downloaded_at)
        area.stage(BALANCE, table, [ticker])
    publish(root)
    for ticker in ("AAPL", "MSFT"):
        write_v1_unit(root, BALANCE, ticker, balance_rows(ticker), stamp(ticker))
    return root


def balance_values(root):
    values = {}
    for row in table_of(root, "balance_sheets").select(["ticker", "total_assets"]).to_pylist():
        values.setdefault(row["ticker"], []).append(row["total_assets"])
    return values


def test_in_a_mixed_root_the_newer_download_of_each_ticker_wins_and_other_tickers_keep_theirs(tmp_path):
    root = build_mixed_root(tmp_path / "mixed")
    report = compact(root)
    balance = report.datasets["balance_sheets"]
    assert report.ok and balance.superseded == {"MSFT": 5}
    assert balance_values(root) == {"AAPL": [1.0, 2.0, 3.0, 4.0, 5.0], "MSFT": [99.0, 198.0], "NVDA": [7.0, 14.0]}
    assert balance.v2_rows_before == 6 and balance.replaced_v2_rows == 2 and balance.v2_rows == 2 + 2 + 5
    assert not has_v1_layout(root)
    assert len(list((root / "_v1_superseded/balance_sheets").rglob("ticker=MSFT.parquet"))) == 5


@pytest.mark.parametrize("target, attribute, call", [
    (compaction, "_move_aside", 1), (compaction, "_move_aside", 4), (pathlib.Path, "unlink", 3),
    (publishing, "write_partition_file", 2)], ids=["move-1", "move-4", "unlink-3", "write-2"])
def test_a_mixed_root_killed_while_converting_then_run_again_ends_like_a_clean_run(tmp_path, monkeypatch, target,
                                                                                   attribute, call):
    clean = build_mixed_root(tmp_path / "clean")
    compact(clean)
    killed = build_mixed_root(tmp_path / "killed")
    with monkeypatch.context() as patch:
        kill_at(patch, target, attribute, call)
        with pytest.raises(Killed):
            compact(killed)
    assert compact(killed).ok
    assert balance_values(killed) == balance_values(clean)
    assert data_files(killed) == data_files(clean)


def test_natural_key_duplicates_are_dropped_and_counted_the_newest_kept(tmp_path):
    root = tmp_path / "v1"
    write_v1_unit(root, PRICES, "AAPL", price_rows("AAPL", days=3), T0)
    stale = root / "daily_prices/year=2024/month=11/ticker=AAPL.parquet"
    table = pq.read_table(stale)
    newer = table.set_column(table.schema.get_field_index("downloaded_at"), DOWNLOADED_AT,
                             pa.array([T0 + timedelta(days=1)] * table.num_rows, DOWNLOADED_AT.type))
    newer = newer.set_column(table.schema.get_field_index("close"), "close", pa.array([1.0] * table.num_rows))
    pq.write_table(pa.concat_tables([table, newer]), stale)
    report = compact(root)
    prices = report.datasets["daily_prices"]
    assert prices.duplicates == 3 and prices.rows_match and report.ok
    assert table_of(root, "daily_prices").column("close").to_pylist() == [1.0, 1.0, 1.0]


def test_a_file_that_cannot_be_converted_is_left_with_every_file_of_its_ticker(v1_root):
    (v1_root / "balance_sheets/year=2023/month=08/ticker=MSFT.parquet").write_bytes(b"not parquet")
    report = compact(v1_root)
    balance = report.datasets["balance_sheets"]
    assert not report.ok and list(balance.kept) == ["MSFT"] and balance.kept_files == 5
    assert "unreadable" in balance.kept["MSFT"]
    assert sorted(p.name for p in (v1_root / "balance_sheets").rglob("ticker=*.parquet")) == ["ticker=MSFT.parquet"] * 5
    assert set(table_of(v1_root, "balance_sheets").column("ticker").to_pylist()) == {"AAPL", "BRK.B", "ZZ"}
    assert has_v1_layout(v1_root)
    assert report.datasets["daily_prices"].rows_match and not report.datasets["daily_prices"].kept


def test_an_older_v1_schema_is_converted_and_a_column_that_would_be_lost_is_refused(tmp_path):
    root = tmp_path / "v1"
    write_v1_unit(root, PRICES, "AAPL", price_rows("AAPL", days=3), T0)
    write_v1_unit(root, PRICES, "MSFT", price_rows("MSFT", days=3), T0)
    aapl = root / "daily_prices/year=2024/month=11/ticker=AAPL.parquet"
    pq.write_table(pq.read_table(aapl).drop_columns(["vwap", "transactions"]), aapl)
    msft = root / "daily_prices/year=2024/month=11/ticker=MSFT.parquet"
    table = pq.read_table(msft)
    pq.write_table(table.append_column("exchange", pa.array(["XNAS"] * table.num_rows)), msft)
    report = compact(root)
    prices = report.datasets["daily_prices"]
    assert list(prices.kept) == ["MSFT"] and "exchange" in prices.kept["MSFT"]
    converted = table_of(root, "daily_prices")
    assert converted.column("ticker").to_pylist() == ["AAPL"] * 3
    assert converted.column("vwap").null_count == 3
    assert msft.exists() and not aapl.exists()


def test_a_root_without_v1_files_is_left_alone(tmp_path):
    area = StagingArea(tmp_path)
    area.stage(BALANCE, stamped(BALANCE, records_table(BALANCE, balance_rows("AAPL")), T0), ["AAPL"])
    publish(tmp_path)
    files = snapshot(tmp_path)
    report = compact(tmp_path)
    assert not report.found_v1 and report.ok and snapshot(tmp_path) == files


def run_compact(root):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCREENER_DATA_DIR", "SCREENER_PROGRESS_FILE", "POLYGON_API_KEY", "POLYGON_BASE_URL")}
    return subprocess.run([sys.executable, "-m", "scrapy", "compact", "--data-dir", str(root)], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_scrapy_compact_prints_rows_before_and_after_and_a_second_run_says_there_is_nothing(v1_root):
    result = run_compact(v1_root)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip()}
    # dataset, v1 files, v1 rows, v1 MB, v2 files, v2 rows, v2 MB, check
    assert lines["balance_sheets"][1:3] == ["20", "20"] and lines["balance_sheets"][4:6] == ["5", "20"]
    assert lines["related_tickers"][1:3] == ["4", "9"] and lines["related_tickers"][4:6] == ["1", "9"]
    assert lines["universe"][-1] == "ok" and lines["daily_prices"][-1] == "ok"
    assert "OK: every v1 row is published" in result.stdout
    assert not has_v1_layout(v1_root)
    again = run_compact(v1_root)
    assert again.returncode == 0 and "nothing to convert" in again.stdout


def test_a_second_compact_of_the_same_root_at_the_same_time_is_refused(v1_root):
    import fcntl

    descriptor = os.open(v1_root, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        with pytest.raises(compaction.CompactionRunning):
            compact(v1_root)
    finally:
        os.close(descriptor)
    assert has_v1_layout(v1_root)
