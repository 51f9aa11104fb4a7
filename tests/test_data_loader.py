"""DataLoader: filters pushed down to pyarrow (tickers, date pruning, columns), missing datasets,
clear errors (DESIGN §5)."""

from datetime import date, datetime, timezone

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from screener_crawler import data_loader, settings as project_settings
from screener_crawler.connection import DEFAULT_DATA_DIR, SANDBOX_DATA_DIR, project_path
from screener_crawler.data_loader import DataLoader
from screener_crawler.datasets import DATASETS, DOWNLOADED_AT, Dataset
from screener_crawler.storage import write_unit

PRICES = DATASETS["daily_prices"]
NOW = datetime(2026, 1, 2, tzinfo=timezone.utc)
DAYS = [date(2024, 1, 15), date(2024, 2, 9), date(2024, 2, 10), date(2024, 3, 5), date(2024, 4, 1)]


def price(ticker, day, close):
    return {"ticker": ticker, "date": day, "close": close}


@pytest.fixture
def root(tmp_path):
    """AAPL and MSFT prices in four months of 2024; related tickers for AAPL."""
    for ticker, offset in (("AAPL", 100.0), ("MSFT", 200.0)):
        write_unit(tmp_path, PRICES, ticker,
                   [price(ticker, day, offset + index) for index, day in enumerate(DAYS)], NOW)
    write_unit(tmp_path, DATASETS["related_tickers"], "AAPL",
               [{"ticker": "AAPL", "related_ticker": "MSFT", "rank": 1}], NOW)
    return tmp_path


def corrupt(path):
    path.write_bytes(b"not parquet")


def test_load_returns_every_row_with_the_declared_columns(root):
    frame = DataLoader(root).load("daily_prices")
    assert list(frame.columns) == list(PRICES.columns)
    assert len(frame) == 10
    assert sorted(set(frame["ticker"])) == ["AAPL", "MSFT"]


def test_tickers_filter_keeps_only_those_tickers_and_never_opens_other_files(root):
    for path in (root / "daily_prices").glob("year=*/month=*/ticker=MSFT.parquet"):
        corrupt(path)
    frame = DataLoader(root).load("daily_prices", tickers=["AAPL"])
    assert set(frame["ticker"]) == {"AAPL"}
    assert sorted(frame["close"]) == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert DataLoader(root).load("daily_prices", tickers="AAPL")["ticker"].tolist() == ["AAPL"] * 5
    assert DataLoader(root).load("daily_prices", tickers=["ZZZZ"]).empty


def test_start_and_end_are_inclusive_on_the_partition_date(root):
    frame = DataLoader(root).load("daily_prices", tickers=["AAPL"], start="2024-02-10", end=date(2024, 3, 5))
    assert sorted(frame["date"]) == [date(2024, 2, 10), date(2024, 3, 5)]
    frame = DataLoader(root).load("daily_prices", start=datetime(2024, 4, 1, 9, 30))
    assert sorted(frame["date"]) == [date(2024, 4, 1)] * 2


def test_start_and_end_prune_partitions_before_files_are_opened(root):
    for month in ("01", "04"):
        for path in (root / f"daily_prices/year=2024/month={month}").glob("*.parquet"):
            corrupt(path)
    loader = DataLoader(root)
    frame = loader.load("daily_prices", start="2024-02-01", end="2024-03-31")
    assert sorted(set(frame["date"])) == [date(2024, 2, 9), date(2024, 2, 10), date(2024, 3, 5)]
    with pytest.raises(pa.ArrowInvalid):  # without the bounds the corrupt months are read
        loader.load("daily_prices")


def test_date_filter_selects_only_fragments_of_matching_months(root):
    dataset = ds.dataset(root / "daily_prices", format="parquet", partitioning=data_loader.PARTITIONING)
    row_filter = data_loader._row_filter(PRICES, None, date(2024, 2, 10), date(2024, 3, 1))
    fragments = [fragment.path for fragment in dataset.get_fragments(filter=row_filter)]
    assert len(fragments) == 4 and all("month=02" in path or "month=03" in path for path in fragments)


def test_columns_are_projected_in_the_order_asked(root):
    frame = DataLoader(root).load("daily_prices", columns=["close", "ticker"])
    assert list(frame.columns) == ["close", "ticker"]
    frame = DataLoader(root).load("daily_prices", tickers=["AAPL"], columns=["date", "year", "month"])
    assert sorted(zip(frame["year"], frame["month"])) == [(2024, 1), (2024, 2), (2024, 2), (2024, 3), (2024, 4)]


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


def test_bad_dates_are_clear_errors(root):
    with pytest.raises(ValueError, match="start must be a date"):
        DataLoader(root).load("daily_prices", start="last tuesday")
    with pytest.raises(ValueError, match="is after end"):
        DataLoader(root).load("daily_prices", start="2024-03-01", end="2024-02-01")


def test_load_financial_ratios_names_the_missing_declaration(root, monkeypatch):
    monkeypatch.delitem(DATASETS, "financial_ratios", raising=False)
    with pytest.raises(ValueError, match="financial_ratios dataset is not declared"):
        DataLoader(root).load_financial_ratios()


def test_load_financial_ratios_loads_the_declared_dataset(root, monkeypatch):
    ratios = Dataset(name="financial_ratios", natural_key=("ticker", "date"), partition_date="date",
                     schema=pa.schema([pa.field("ticker", pa.string()), pa.field("date", pa.date32()),
                                       pa.field("pe_ratio", pa.float64()), DOWNLOADED_AT]))
    monkeypatch.setitem(DATASETS, "financial_ratios", ratios)
    write_unit(root, ratios, "AAPL", [{"ticker": "AAPL", "date": day, "pe_ratio": 20.0} for day in DAYS],
               datetime(2026, 1, 1, tzinfo=timezone.utc))
    frame = DataLoader(root).load_financial_ratios(tickers=["AAPL"], start="2024-03-01", columns=["date", "pe_ratio"])
    assert frame.values.tolist() == [[date(2024, 3, 5), 20.0], [date(2024, 4, 1), 20.0]]


def test_default_root_is_the_crawls_data_root(monkeypatch, tmp_path):
    monkeypatch.setattr(project_settings, "SCREENER_DATA_DIR", "")
    assert DataLoader().root == project_path(DEFAULT_DATA_DIR)
    assert DataLoader(sandbox=True).root == project_path(SANDBOX_DATA_DIR)
    monkeypatch.setattr(project_settings, "SCREENER_DATA_DIR", str(tmp_path))
    assert DataLoader().root == tmp_path
