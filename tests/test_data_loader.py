"""DataLoader on the v2 layout (one file per partition, every ticker in it): filters pushed down to
pyarrow (tickers prune row groups, dates prune partitions, columns are projected), missing
datasets, clear errors, and the screener views ``latest_ratios`` and ``ratios_asof`` (DESIGN §3, §5).

Data are written the way a crawl writes them: staged, then published."""

import dataclasses
import shutil
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from screener_crawler import data_loader, settings as project_settings
from screener_crawler.connection import DEFAULT_DATA_DIR, SANDBOX_DATA_DIR, project_path
from screener_crawler.data_loader import ASOF_PRICE_DAYS, DataLoader
from screener_crawler.datasets import DATASETS, STORED_DATASETS
from screener_crawler.ratios.inputs import read_rows
from screener_crawler.ratios.latest import LATEST, latest_path, latest_rows
from screener_crawler.storage.publishing import publish
from screener_crawler.storage.staging import WHOLE_TABLE, StagingArea
from screener_crawler.storage.tables import records_table, stamped

PRICES = DATASETS["daily_prices"]
RATIOS = DATASETS["financial_ratios"]
SPLITS = DATASETS["splits"]
NOW = datetime(2026, 1, 2, tzinfo=timezone.utc)
DAYS = [date(2024, 1, 15), date(2024, 2, 9), date(2024, 2, 10), date(2024, 3, 5), date(2024, 4, 1)]
TTM = "trailing_twelve_months"


THEIRS = object()


def write(root, dataset, records, tickers=THEIRS):
    """Stage ``records`` as replacing ``tickers`` (default: theirs; ``WHOLE_TABLE`` for the
    universe) and publish them."""
    table = stamped(dataset, records_table(dataset, records), NOW)
    StagingArea(root).stage(dataset, table, sorted({r["ticker"] for r in records}) if tickers is THEIRS else tickers)
    publish(root)
    return table


def price(ticker, day, close):
    return {"ticker": ticker, "date": day, "close": close}


def corrupt(path):
    path.write_bytes(b"not parquet")


def partition(root, dataset, year, month):
    return root / dataset / f"year={year}" / f"month={month:02d}" / "part-0.parquet"


@pytest.fixture
def root(tmp_path):
    """AAPL and MSFT prices in four months of 2024 (one file per month, both tickers in it);
    related tickers for AAPL."""
    write(tmp_path, PRICES, [price(ticker, day, offset + index)
                             for ticker, offset in (("AAPL", 100.0), ("MSFT", 200.0))
                             for index, day in enumerate(DAYS)])
    write(tmp_path, DATASETS["related_tickers"], [{"ticker": "AAPL", "related_ticker": "MSFT", "rank": 1}])
    return tmp_path


def test_the_fixture_is_in_the_v2_layout(root):
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert files == [f"daily_prices/year=2024/month={m}/part-0.parquet" for m in ("01", "02", "03", "04")] + [
        "related_tickers/part-0.parquet"]
    assert pq.read_table(partition(root, "daily_prices", 2024, 2)).column("ticker").to_pylist() == [
        "AAPL", "AAPL", "MSFT", "MSFT"]


def test_load_returns_every_row_with_the_declared_columns(root):
    frame = DataLoader(root).load("daily_prices")
    assert list(frame.columns) == list(PRICES.columns)
    assert len(frame) == 10
    assert sorted(set(frame["ticker"])) == ["AAPL", "MSFT"]


def test_tickers_filter_keeps_only_those_tickers(root):
    frame = DataLoader(root).load("daily_prices", tickers=["AAPL"])
    assert set(frame["ticker"]) == {"AAPL"}
    assert sorted(frame["close"]) == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert DataLoader(root).load("daily_prices", tickers="AAPL")["ticker"].tolist() == ["AAPL"] * 5
    assert DataLoader(root).load("daily_prices", tickers={"MSFT", "ZZZZ"})["ticker"].tolist() == ["MSFT"] * 5
    assert DataLoader(root).load("daily_prices", tickers=["ZZZZ"]).empty


def test_no_tickers_is_an_empty_frame_not_a_type_error(root):
    frame = DataLoader(root).load("daily_prices", tickers=[])
    assert frame.empty and list(frame.columns) == list(PRICES.columns)


# --- row-group pruning -------------------------------------------------------------------------

MANY = [f"T{number:02d}" for number in range(12)]
MONTH_DAYS = [date(2024, 5, day) for day in (1, 2, 3, 6)]


@pytest.fixture
def many_row_groups(tmp_path, monkeypatch):
    """One partition (May 2024) of 12 tickers x 4 days, written in row groups of 4 rows: one
    row group per ticker, in ticker order."""
    monkeypatch.setitem(STORED_DATASETS, "daily_prices", dataclasses.replace(PRICES, row_group_rows=4))
    write(tmp_path, PRICES, [price(ticker, day, float(n * 10 + d))
                             for n, ticker in enumerate(MANY) for d, day in enumerate(MONTH_DAYS)])
    path = partition(tmp_path, "daily_prices", 2024, 5)
    metadata = pq.read_metadata(path)
    assert metadata.num_row_groups == len(MANY)
    return tmp_path, path


def row_group_tickers(path):
    """Per row group, the (min, max) of ``ticker`` its statistics give."""
    metadata = pq.read_metadata(path)
    column = metadata.schema.to_arrow_schema().get_field_index("ticker")
    return [(metadata.row_group(i).column(column).statistics.min, metadata.row_group(i).column(column).statistics.max)
            for i in range(metadata.num_row_groups)]


def corrupt_column_chunks(path, keep_groups=(), keep_columns=()):
    """Overwrite the column chunks (pages and their headers) of every row group but
    ``keep_groups`` and every column but ``keep_columns``, leaving the footer and its statistics
    intact: decoding one of them fails."""
    metadata = pq.read_metadata(path)
    with open(path, "r+b") as file:
        for group in range(metadata.num_row_groups):
            if group in keep_groups:
                continue
            for column in range(metadata.num_columns):
                if metadata.schema.column(column).path in keep_columns:
                    continue
                chunk = metadata.row_group(group).column(column)
                file.seek(chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset)
                file.write(b"\xff" * chunk.total_compressed_size)


def test_the_tickers_filter_selects_only_the_row_groups_whose_statistics_can_hold_them(many_row_groups):
    root, path = many_row_groups
    assert row_group_tickers(path) == [(ticker, ticker) for ticker in MANY]
    dataset = ds.dataset(root / "daily_prices", format="parquet", partitioning=data_loader.PARTITIONING)
    row_filter = data_loader._row_filter(PRICES, ["T03", "T07"], None, None)
    [fragment] = dataset.get_fragments(filter=row_filter)
    assert [group.id for group in fragment.subset(row_filter).row_groups] == [3, 7]
    one = data_loader._row_filter(PRICES, "T11", None, None)
    assert [group.id for group in fragment.subset(one).row_groups] == [11]
    assert fragment.subset(data_loader._row_filter(PRICES, ["T99"], None, None)).row_groups == []


def test_loading_a_few_tickers_never_decodes_the_other_row_groups(many_row_groups):
    root, path = many_row_groups
    corrupt_column_chunks(path, keep_groups={3, 7})
    loader = DataLoader(root)
    frame = loader.load("daily_prices", tickers=["T07", "T03"], columns=["ticker", "date", "close"])
    assert frame.values.tolist() == [["T03", day, 30.0 + d] for d, day in enumerate(MONTH_DAYS)] + [
        ["T07", day, 70.0 + d] for d, day in enumerate(MONTH_DAYS)]
    assert loader.load("daily_prices", tickers=["T99"]).empty
    with pytest.raises(OSError):  # a reader that filtered after reading would decode the broken groups
        loader.load("daily_prices", columns=["ticker", "close"])
    with pytest.raises(OSError):
        loader.load("daily_prices", tickers=["T04"])


def test_the_ratio_inputs_read_decodes_only_the_row_groups_in_the_tickers_range(many_row_groups):
    root, path = many_row_groups
    corrupt_column_chunks(path, keep_groups={3, 4, 5})
    rows = read_rows(root, "daily_prices", ["T05", "T03"], ["ticker", "date", "close"])
    assert rows.schema == pa.schema([PRICES.schema.field(name) for name in ("ticker", "date", "close")])
    assert rows.to_pylist() == [{"ticker": ticker, "date": day, "close": base + d}
                                for ticker, base in (("T03", 30.0), ("T05", 50.0)) for d, day in enumerate(MONTH_DAYS)]
    assert read_rows(root, "daily_prices", [], ["ticker"]).num_rows == 0
    with pytest.raises(OSError):  # T02 and T06 lie in groups the range does not cover
        read_rows(root, "daily_prices", ["T02", "T06"], ["ticker", "close"])


# --- dates, columns, errors --------------------------------------------------------------------

def test_start_and_end_are_inclusive_on_the_partition_date(root):
    frame = DataLoader(root).load("daily_prices", tickers=["AAPL"], start="2024-02-10", end=date(2024, 3, 5))
    assert sorted(frame["date"]) == [date(2024, 2, 10), date(2024, 3, 5)]
    frame = DataLoader(root).load("daily_prices", start=datetime(2024, 4, 1, 9, 30))
    assert sorted(frame["date"]) == [date(2024, 4, 1)] * 2


def test_start_and_end_prune_partitions_before_files_are_opened(root):
    for month in (1, 4):
        corrupt(partition(root, "daily_prices", 2024, month))
    loader = DataLoader(root)
    frame = loader.load("daily_prices", start="2024-02-01", end="2024-03-31")
    assert sorted(set(frame["date"])) == [date(2024, 2, 9), date(2024, 2, 10), date(2024, 3, 5)]
    with pytest.raises(pa.ArrowInvalid):  # without the bounds the corrupt months are read
        loader.load("daily_prices")


def test_date_filter_selects_only_fragments_of_matching_months(root):
    dataset = ds.dataset(root / "daily_prices", format="parquet", partitioning=data_loader.PARTITIONING)
    row_filter = data_loader._row_filter(PRICES, None, date(2024, 2, 10), date(2024, 3, 1))
    fragments = sorted(fragment.path for fragment in dataset.get_fragments(filter=row_filter))
    assert fragments == [str(partition(root, "daily_prices", 2024, month)) for month in (2, 3)]


def test_columns_are_projected_in_the_order_asked(root):
    frame = DataLoader(root).load("daily_prices", columns=["close", "ticker"])
    assert list(frame.columns) == ["close", "ticker"]
    frame = DataLoader(root).load("daily_prices", tickers=["AAPL"], columns=["date", "year", "month"])
    assert sorted(zip(frame["year"], frame["month"])) == [(2024, 1), (2024, 2), (2024, 2), (2024, 3), (2024, 4)]
    assert DataLoader(root).load("daily_prices", columns="close")["close"].count() == 10


def test_partition_columns_are_not_in_the_result_unless_asked(root):
    frame = DataLoader(root).load("daily_prices")
    assert "year" not in frame.columns and "month" not in frame.columns


def test_unknown_column_is_a_clear_error(root):
    with pytest.raises(ValueError, match=r"unknown column\(s\) 'closing'.*valid columns: ticker, date, open"):
        DataLoader(root).load("daily_prices", columns=["ticker", "closing"])


def test_unknown_dataset_is_a_clear_error(root):
    with pytest.raises(ValueError, match="unknown dataset 'prices'; known datasets: .*daily_prices"):
        DataLoader(root).load("prices")


def test_missing_dataset_folder_gives_an_empty_frame_with_the_declared_columns(root):
    frame = DataLoader(root).load("dividends", tickers=["AAPL"], start="2024-01-01")
    assert frame.empty
    assert list(frame.columns) == list(DATASETS["dividends"].columns)
    assert list(DataLoader(root / "nowhere").load("splits", columns=["ticker", "year"]).columns) == ["ticker", "year"]


def test_dataset_without_a_partition_date_loads_but_refuses_start_and_end(root):
    frame = DataLoader(root).load("related_tickers", tickers=["AAPL"])
    assert frame[["ticker", "related_ticker"]].values.tolist() == [["AAPL", "MSFT"]]
    with pytest.raises(ValueError, match="related_tickers has no partition date"):
        DataLoader(root).load("related_tickers", start="2024-01-01")
    with pytest.raises(ValueError, match="unknown column"):
        DataLoader(root).load("related_tickers", columns=["year"])


def test_the_universe_loads_from_its_one_file(tmp_path):
    write(tmp_path, DATASETS["universe"], [{"ticker": "MSFT", "active": True}, {"ticker": "OLD", "active": False}],
          WHOLE_TABLE)
    frame = DataLoader(tmp_path).load("universe", tickers=["OLD"], columns=["ticker", "active"])
    assert frame.values.tolist() == [["OLD", False]]


def test_bad_dates_are_clear_errors(root):
    with pytest.raises(ValueError, match="start must be a date"):
        DataLoader(root).load("daily_prices", start="last tuesday")
    with pytest.raises(ValueError, match="is after end"):
        DataLoader(root).load("daily_prices", start="2024-03-01", end="2024-02-01")
    with pytest.raises(ValueError, match="date must be a date"):
        DataLoader(root).ratios_asof("yesterday")


def test_default_root_is_the_crawls_data_root(monkeypatch, tmp_path):
    monkeypatch.setattr(project_settings, "SCREENER_DATA_DIR", "")
    assert DataLoader().root == project_path(DEFAULT_DATA_DIR)
    assert DataLoader(sandbox=True).root == project_path(SANDBOX_DATA_DIR)
    monkeypatch.setattr(project_settings, "SCREENER_DATA_DIR", str(tmp_path))
    assert DataLoader().root == tmp_path


# --- financial ratios --------------------------------------------------------------------------

ASOF = date(2024, 6, 14)
"""The day of the point-in-time tests (a Friday)."""


def ratio(ticker, period_end, filing_date, available_date=None, timeframe=TTM, **values):
    """A ``financial_ratios`` row as the crawl stored it: valued at a close of 1.0 (so that a
    re-priced value is told apart from the stored one)."""
    return {"ticker": ticker, "timeframe": timeframe, "period_end": period_end, "filing_date": filing_date,
            "available_date": available_date or filing_date + timedelta(days=1), "close": 1.0,
            "price_date": available_date or filing_date + timedelta(days=1), "split_factor": 1.0,
            "market_cap": 1.0, **values}


RATIO_ROWS = [
    # AAPL: its latest usable TTM row on ASOF is the one of 2024-03-30; the next is filed after ASOF
    ratio("AAPL", date(2023, 12, 30), date(2024, 2, 2), current_ratio=1.0, basis_cur_so=900.0),
    ratio("AAPL", date(2024, 3, 30), date(2024, 5, 3), date(2024, 5, 6), current_ratio=2.0,
          basis_cur_so=1000.0, basis_ttm_rev=40_800.0),
    ratio("AAPL", date(2024, 6, 29), date(2024, 8, 2), date(2024, 8, 5), current_ratio=2.5, basis_cur_so=1000.0),
    ratio("AAPL", date(2024, 5, 31), date(2024, 6, 3), timeframe="quarterly", current_ratio=2.2, basis_cur_so=1000.0),
    # MSFT: a restatement (same period, later filing) wins; an amendment of an older period does not;
    # a row filed on ASOF is usable only the next trading day; one filed later in the month not at all
    ratio("MSFT", date(2024, 3, 31), date(2024, 4, 25), current_ratio=3.0, basis_cur_so=400.0),
    ratio("MSFT", date(2024, 3, 31), date(2024, 5, 20), current_ratio=3.5, basis_cur_so=500.0),
    ratio("MSFT", date(2023, 12, 31), date(2024, 6, 3), current_ratio=3.1, basis_cur_so=450.0),
    ratio("MSFT", date(2024, 5, 31), ASOF, date(2024, 6, 17), current_ratio=9.0, basis_cur_so=600.0),
    ratio("MSFT", date(2024, 6, 15), date(2024, 6, 20), date(2024, 6, 21), current_ratio=9.5, basis_cur_so=600.0),
    # NVDA: nothing filed by ASOF
    ratio("NVDA", date(2024, 6, 30), date(2024, 8, 20), current_ratio=4.0, basis_cur_so=2000.0),
    # XOM: usable, but its last close is older than ASOF_PRICE_DAYS
    ratio("XOM", date(2024, 3, 31), date(2024, 5, 1), current_ratio=5.0, basis_cur_so=300.0),
]
PRICE_ROWS = [
    price("AAPL", date(2024, 6, 12), 100.0), price("AAPL", ASOF, 102.0),
    price("AAPL", date(2024, 6, 17), 500.0), price("AAPL", date(2024, 7, 1), 999.0),
    price("MSFT", date(2024, 6, 10), 200.0), price("MSFT", date(2024, 6, 13), 210.0),
    price("MSFT", ASOF, None),
    price("XOM", ASOF - timedelta(days=ASOF_PRICE_DAYS + 1), 50.0),
]
SPLIT_ROWS = [
    # AAPL 4-for-1 after its period end and before ASOF: its shares are put on the split basis
    {"ticker": "AAPL", "execution_date": date(2024, 6, 10), "split_from": 1.0, "split_to": 4.0, "source": "v1"},
    {"ticker": "AAPL", "execution_date": date(2024, 6, 20), "split_from": 1.0, "split_to": 2.0, "source": "v1"},
    {"ticker": "AAPL", "execution_date": date(2024, 7, 10), "split_from": 1.0, "split_to": 3.0, "source": "v1"},
    # MSFT's split precedes its period end: its shares are already on that basis
    {"ticker": "MSFT", "execution_date": date(2024, 1, 15), "split_from": 1.0, "split_to": 2.0, "source": "v1"},
]


@pytest.fixture
def ratios_root(tmp_path):
    """Ratios, prices and splits around ASOF, with the cross-section file the ratio pass keeps."""
    table = write(tmp_path, RATIOS, RATIO_ROWS)
    StagingArea(tmp_path).stage(LATEST, latest_rows(table), sorted(set(table.column("ticker").to_pylist())))
    publish(tmp_path)
    write(tmp_path, PRICES, PRICE_ROWS)
    write(tmp_path, SPLITS, SPLIT_ROWS)
    return tmp_path


def test_load_financial_ratios_loads_the_dataset_with_filing_date_bounds(ratios_root):
    frame = DataLoader(ratios_root).load_financial_ratios(tickers=["MSFT"], start="2024-05-01", end=ASOF,
                                                          columns=["filing_date", "current_ratio"])
    assert sorted(frame.values.tolist()) == [[date(2024, 5, 20), 3.5], [date(2024, 6, 3), 3.1], [ASOF, 9.0]]


def test_load_financial_ratios_names_the_missing_declaration(root, monkeypatch):
    monkeypatch.delitem(DATASETS, "financial_ratios", raising=False)
    with pytest.raises(ValueError, match="financial_ratios dataset is not declared"):
        DataLoader(root).load_financial_ratios()


def test_latest_ratios_is_each_tickers_latest_period_then_latest_filing(ratios_root):
    latest = DataLoader(ratios_root).latest_ratios()
    assert list(latest.columns) == list(RATIOS.columns)
    assert latest[["ticker", "period_end", "filing_date", "current_ratio"]].values.tolist() == [
        ["AAPL", date(2024, 6, 29), date(2024, 8, 2), 2.5],
        ["MSFT", date(2024, 6, 15), date(2024, 6, 20), 9.5],
        ["NVDA", date(2024, 6, 30), date(2024, 8, 20), 4.0],
        ["XOM", date(2024, 3, 31), date(2024, 5, 1), 5.0],
    ]
    assert (latest["market_cap"] == 1.0).all()  # valued as the crawl valued it: not re-priced
    quarterly = DataLoader(ratios_root).latest_ratios(timeframe="quarterly", columns=["ticker", "current_ratio"])
    assert quarterly.values.tolist() == [["AAPL", 2.2]]


def test_latest_ratios_reads_the_one_cross_section_file(ratios_root):
    for path in (ratios_root / "financial_ratios").rglob("*.parquet"):
        corrupt(path)
    latest = DataLoader(ratios_root).latest_ratios(tickers="MSFT", columns=["ticker", "current_ratio"])
    assert latest.values.tolist() == [["MSFT", 9.5]]


def test_latest_ratios_reads_the_dataset_when_the_cross_section_file_is_missing(ratios_root, tmp_path):
    columns = ["ticker", "period_end", "filing_date", "current_ratio"]
    from_file = DataLoader(ratios_root).latest_ratios(tickers=["XOM", "AAPL", "MSFT"], columns=columns)
    latest_path(ratios_root).unlink()
    from_dataset = DataLoader(ratios_root).latest_ratios(tickers=["XOM", "AAPL", "MSFT"], columns=columns)
    assert list(from_file["ticker"]) == ["AAPL", "MSFT", "XOM"]
    pd.testing.assert_frame_equal(from_file, from_dataset)
    nobody = DataLoader(ratios_root).latest_ratios(tickers=[], columns=columns)
    assert nobody.empty and list(nobody.columns) == columns


def test_latest_ratios_refuses_columns_the_dataset_does_not_have(ratios_root):
    with pytest.raises(ValueError, match="dataset's own columns only"):
        DataLoader(ratios_root).latest_ratios(columns=["ticker", "year"])
    with pytest.raises(ValueError, match="unknown column"):
        DataLoader(ratios_root).latest_ratios(columns=["pe"])


def test_latest_ratios_of_a_root_without_ratios_is_empty(tmp_path):
    latest = DataLoader(tmp_path).latest_ratios(columns=["ticker", "current_ratio"])
    assert latest.empty and list(latest.columns) == ["ticker", "current_ratio"]


def asof_rows(root, day=ASOF, **options):
    return DataLoader(root).ratios_asof(day, **options).set_index("ticker")


def test_ratios_asof_is_each_tickers_latest_row_usable_on_that_day(ratios_root):
    asof = asof_rows(ratios_root)
    assert list(asof.reset_index().columns) == list(RATIOS.columns)
    assert asof[["period_end", "filing_date", "current_ratio"]].reset_index().values.tolist() == [
        ["AAPL", date(2024, 3, 30), date(2024, 5, 3), 2.0],
        ["MSFT", date(2024, 3, 31), date(2024, 5, 20), 3.5],
        ["XOM", date(2024, 3, 31), date(2024, 5, 1), 5.0],
    ]
    assert (asof["available_date"] <= ASOF).all() and (asof["filing_date"] <= ASOF).all()
    # the next trading day, MSFT's row filed on ASOF is usable
    assert asof_rows(ratios_root, date(2024, 6, 17)).loc["MSFT", "current_ratio"] == 9.0


def test_ratios_asof_reprices_valuation_at_the_last_close_on_or_before_the_day(ratios_root):
    asof = asof_rows(ratios_root)
    aapl, msft, xom = asof.loc["AAPL"], asof.loc["MSFT"], asof.loc["XOM"]
    assert (aapl["close"], aapl["price_date"], aapl["split_factor"]) == (102.0, ASOF, 4.0)
    assert aapl["market_cap"] == pytest.approx(102.0 * 4.0 * 1000.0)
    assert aapl["price_to_sales"] == pytest.approx(10.0)
    # a null close on the day is no close: the day before's is used
    assert (msft["close"], msft["price_date"], msft["split_factor"]) == (210.0, date(2024, 6, 13), 1.0)
    assert msft["market_cap"] == pytest.approx(210.0 * 500.0)
    # no close within ASOF_PRICE_DAYS: no valuation
    assert pd.isna(xom["close"]) and pd.isna(xom["price_date"]) and pd.isna(xom["market_cap"])
    assert xom["current_ratio"] == 5.0


def test_ratios_asof_reads_nothing_filed_after_the_day(ratios_root):
    for dataset, year, month in (("financial_ratios", 2024, 8), ("daily_prices", 2024, 7), ("splits", 2024, 7)):
        corrupt(partition(ratios_root, dataset, year, month))
    asof = asof_rows(ratios_root)
    assert list(asof.index) == ["AAPL", "MSFT", "XOM"]
    assert asof.loc["AAPL", "market_cap"] == pytest.approx(102.0 * 4.0 * 1000.0)
    with pytest.raises(pa.ArrowInvalid):  # the corrupt files would have been noticed
        DataLoader(ratios_root).load_financial_ratios()


def test_ratios_asof_reads_whole_rows_only_from_the_partitions_of_the_chosen_rows(ratios_root):
    # every chosen row was filed in May; February's file is scanned for the key columns only
    february = partition(ratios_root, "financial_ratios", 2024, 2)
    corrupt_column_chunks(february, keep_columns={"ticker", "timeframe", "period_end", "filing_date",
                                                  "available_date"})
    asof = asof_rows(ratios_root)
    assert asof["current_ratio"].to_dict() == {"AAPL": 2.0, "MSFT": 3.5, "XOM": 5.0}
    with pytest.raises(OSError):  # February's rows are broken indeed
        DataLoader(ratios_root).load_financial_ratios(end="2024-02-29")


def test_ratios_asof_filters_tickers_and_timeframe(ratios_root):
    assert list(asof_rows(ratios_root, tickers=["MSFT", "NVDA"]).index) == ["MSFT"]
    quarterly = asof_rows(ratios_root, timeframe="quarterly")
    assert quarterly[["current_ratio", "close"]].reset_index().values.tolist() == [["AAPL", 2.2, 102.0]]


def test_ratios_asof_leaves_out_rows_older_than_max_age_days(ratios_root):
    a_year_on = date(2025, 9, 1)  # the default limit (400 days) reaches back to 2024-07-28
    assert list(asof_rows(ratios_root, a_year_on).index) == ["AAPL", "NVDA"]
    assert list(asof_rows(ratios_root, a_year_on, max_age_days=None).index) == ["AAPL", "MSFT", "NVDA", "XOM"]
    assert list(asof_rows(ratios_root, ASOF, max_age_days=30).index) == ["MSFT"]
    assert asof_rows(ratios_root, ASOF, max_age_days=30).loc["MSFT", "filing_date"] == date(2024, 5, 20)
    for wrong in (-1, 1.5, "30", True):
        with pytest.raises(ValueError, match="max_age_days"):
            DataLoader(ratios_root).ratios_asof(ASOF, max_age_days=wrong)


def test_ratios_asof_before_anything_is_usable_is_empty(ratios_root, tmp_path):
    for root in (ratios_root, tmp_path / "nothing"):
        asof = DataLoader(root).ratios_asof("2020-01-01")
        assert asof.empty and list(asof.columns) == list(RATIOS.columns)


def test_ratios_asof_gives_the_same_rows_as_a_full_read(ratios_root):
    every = DataLoader(ratios_root).load_financial_ratios()
    for day in (date(2024, 5, 2), date(2024, 5, 21), ASOF, date(2024, 6, 21), date(2024, 9, 1)):
        usable = every[(every["timeframe"] == TTM) & (every["available_date"] <= day)]
        expected = usable.sort_values(["ticker", "period_end", "filing_date"]).groupby("ticker").tail(1)
        asof = DataLoader(ratios_root).ratios_asof(day)
        assert asof[["ticker", "period_end", "filing_date"]].values.tolist() == \
            expected[["ticker", "period_end", "filing_date"]].values.tolist(), day
        assert asof["current_ratio"].tolist() == expected["current_ratio"].tolist()


def test_a_copy_without_the_cross_section_still_gives_ratios_asof(ratios_root, tmp_path):
    copy = tmp_path / "copy"
    for dataset in ("financial_ratios", "daily_prices", "splits"):
        shutil.copytree(ratios_root / dataset, copy / dataset)
    pd.testing.assert_frame_equal(DataLoader(copy).ratios_asof(ASOF), DataLoader(ratios_root).ratios_asof(ASOF))
