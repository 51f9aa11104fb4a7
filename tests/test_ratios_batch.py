"""Computing the ratios of several tickers at once (as the pipeline does, a batch per thread
call) gives every ticker exactly the rows it gets alone: from frames in memory, and from its
files on disk, where only the price months that hold the needed closes are read."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from screener_crawler.datasets import DATASETS
from screener_crawler.ratios.compute import compute_many, compute_ratios, to_table
from screener_crawler.ratios.source import (
    batch_ratios,
    compute_and_write,
    ticker_ratios,
)
from screener_crawler.storage import records_table, write_unit
from tests.crawl import read_dataset
from tests.test_ratios_worked_examples import apple_statements

FIXTURE = Path(__file__).parent / "fixtures" / "ratios" / "toy_company.json"
STATEMENTS = ("balance_sheets", "income_statements", "cash_flow")


def toy(ticker, prices, splits):
    """The toy company of test_ratios_catalogue under another ticker, with its own prices and
    splits (lists of dicts without ``ticker``)."""
    data = json.loads(FIXTURE.read_text())
    frames = {name: pd.DataFrame(data[name]).assign(ticker=ticker) for name in STATEMENTS}
    columns = {"daily_prices": ["date", "close"], "splits": ["execution_date", "split_from", "split_to"]}
    for name, rows in (("daily_prices", prices), ("splits", splits)):
        frames[name] = pd.DataFrame(rows, columns=columns[name]).assign(ticker=ticker)
    return frames


def companies():
    """ticker -> frames: TOY as in the fixture (a 2-for-1 split, the FY2024 report's close the
    next Tuesday); ACME the same statements without the split, no bar in the two months after
    that report, and bars of other months; AAPL the worked examples' Apple, with no prices."""
    fixture = json.loads(FIXTURE.read_text())
    acme_bars = [{"date": "2024-11-04", "close": 30.0}, {"date": "2025-02-13", "close": 31.0},
                 {"date": "2025-04-07", "close": 33.0}, {"date": "2025-04-08", "close": 34.0}]
    return {
        "TOY": toy("TOY", [{k: v for k, v in row.items() if k != "ticker"} for row in fixture["daily_prices"]],
                   [{k: v for k, v in row.items() if k != "ticker"} for row in fixture["splits"]]),
        "ACME": toy("ACME", acme_bars, []),
        "AAPL": {**apple_statements(), "daily_prices": None, "splits": None},
    }


def together(frames_by_ticker, tickers):
    def joined(name):
        parts = [frames_by_ticker[t][name] for t in tickers if frames_by_ticker[t].get(name) is not None]
        return pd.concat(parts, ignore_index=True) if parts else None

    return compute_many({name: joined(name) for name in STATEMENTS}, joined("daily_prices"), joined("splits"))


def alone(frames_by_ticker, ticker):
    frames = frames_by_ticker[ticker]
    return compute_ratios(ticker, {name: frames.get(name) for name in STATEMENTS}, frames["daily_prices"],
                          frames["splits"])


def rows_of(frame, ticker):
    return to_table(frame[frame["ticker"] == ticker].reset_index(drop=True))


def test_several_tickers_at_once_give_each_the_rows_it_gets_alone():
    frames = companies()
    batch = together(frames, ["TOY", "AAPL", "ACME"])
    assert list(batch["ticker"].unique()) == ["AAPL", "ACME", "TOY"]
    for ticker in frames:
        single = alone(frames, ticker)
        assert len(single) > 0
        assert rows_of(batch, ticker).equals(to_table(single)), ticker


def test_a_split_and_prices_count_only_for_their_own_ticker():
    batch = together(companies(), ["ACME", "TOY"])
    fy2024 = batch[(batch["timeframe"] == "annual") & (batch["fiscal_year"] == 2024)].set_index("ticker")
    assert fy2024.loc["TOY", "split_factor"] == 2.0 and fy2024.loc["ACME", "split_factor"] == 1.0
    assert fy2024.loc["TOY", "close"] == 50.0 and fy2024.loc["ACME", "close"] == 33.0
    assert fy2024.loc["ACME", "available_date"] == pd.Timestamp("2025-04-07")


def as_records(dataset, frame):
    """``frame`` as a table the dataset's files hold (``source`` is required there)."""
    schema = DATASETS[dataset].schema
    records = frame.to_dict("records")
    for record in records:
        if "source" in schema.names:
            record["source"] = "test fixture"
        for name, value in record.items():
            if isinstance(value, str) and pa.types.is_date(schema.field(name).type):
                record[name] = date.fromisoformat(value)
            elif not isinstance(value, str) and pd.isna(value):
                record[name] = None
    return records_table(DATASETS[dataset], records)


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory):
    root = tmp_path_factory.mktemp("ratios-batch")
    frames = companies()
    for ticker, datasets in frames.items():
        for dataset, frame in datasets.items():
            if frame is not None:
                write_unit(root, DATASETS[dataset], ticker, as_records(dataset, frame), datetime.now(UTC))
    return root, frames


def test_a_batch_read_from_disk_gives_each_ticker_its_rows_from_all_its_data(on_disk):
    root, frames = on_disk
    batch = batch_ratios(root, ["TOY", "ACME", "AAPL", "NONE"])
    for ticker in frames:
        expected = to_table(alone(frames, ticker))
        assert rows_of(batch, ticker).equals(expected), ticker
        assert to_table(ticker_ratios(root, ticker)).equals(expected), ticker


def test_compute_and_write_replaces_the_unit_of_every_ticker_of_the_batch(on_disk):
    root, frames = on_disk
    results, latest = compute_and_write(root, ["TOY", "ACME", "AAPL", "NONE"])
    assert results["NONE"].rows == 0
    assert set(latest.column("ticker").to_pylist()) == set(frames)
    assert latest.group_by(["ticker", "timeframe"]).aggregate([]).num_rows == latest.num_rows
    written = read_dataset(root, "financial_ratios").to_pandas()
    for ticker in frames:
        assert results[ticker].rows == (written["ticker"] == ticker).sum() == len(alone(frames, ticker))
