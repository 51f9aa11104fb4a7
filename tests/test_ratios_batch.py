"""Computing the ratios of several tickers at once (as the pipeline does, a batch per thread
call) gives every ticker exactly the rows it gets alone: from frames in memory, and from its
files on disk, where only the price months that hold the needed closes are read."""

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from screener_crawler.datasets import DATASETS
from screener_crawler.ratios import input_cache
from screener_crawler.ratios.compute import compute_many, compute_ratios, to_table
from screener_crawler.ratios.input_cache import (
    write_partition_and_cache,
    write_unit_and_cache,
)
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


def month_of(day):
    return day.year, day.month


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """The same companies as ``on_disk``, written as a crawl that computes ratios writes them:
    statements and splits unit by unit, prices month by month as the grouped daily listing
    gives them (TOY, ACME and AAPL listed, AAPL with no bar), each also to the input cache."""
    root = tmp_path_factory.mktemp("ratios-cached")
    frames = companies()
    now = datetime.now(UTC)
    prices = []
    for ticker, datasets in frames.items():
        for dataset, frame in datasets.items():
            if dataset == "daily_prices":
                prices += [as_records(dataset, frame)] if frame is not None else []
            elif frame is not None:
                write_unit_and_cache(root, DATASETS[dataset], ticker, as_records(dataset, frame), now)
    spec = DATASETS["daily_prices"]
    every_bar = pa.concat_tables(prices)
    days = every_bar.column("date").to_pylist()
    for partition in sorted({month_of(day) for day in days}):
        month = every_bar.filter(pa.array([month_of(day) == partition for day in days]))
        write_partition_and_cache(root, spec, partition, month, {"TOY", "ACME", "AAPL"}, now)
    return root, frames


def test_a_batch_read_from_the_input_cache_gives_the_rows_read_from_the_files(on_disk, cached):
    files_root, frames = on_disk
    cache_root, _ = cached
    assert list((cache_root / input_cache.CACHE_FOLDER / "daily_prices").glob("month=*.arrow"))
    tickers = ["TOY", "ACME", "AAPL", "NONE"]
    from_files, from_cache = batch_ratios(files_root, tickers), batch_ratios(cache_root, tickers)
    for ticker in frames:
        assert rows_of(from_cache, ticker).equals(rows_of(from_files, ticker)), ticker
        assert len(rows_of(from_cache, ticker)) > 0


def test_the_ratios_read_the_cache_where_it_holds_an_input_and_the_files_elsewhere(cached, tmp_path):
    """Inputs in the cache are not read from their files (here removed), and ACME, whose
    statements are not cached, is read from its files."""
    root = tmp_path / "root"
    shutil.copytree(cached[0], root)
    frames = cached[1]
    for dataset in STATEMENTS:
        (root / input_cache.CACHE_FOLDER / dataset / "ticker=ACME.arrow").unlink()
        for path in (root / dataset).rglob("ticker=TOY.parquet"):
            path.unlink()
    for path in (root / "daily_prices").rglob("ticker=*.parquet"):
        path.unlink()
    batch = batch_ratios(root, ["TOY", "ACME"])
    for ticker in ("TOY", "ACME"):
        assert rows_of(batch, ticker).equals(to_table(alone(frames, ticker))), ticker
    input_cache.empty(root)
    assert not (root / input_cache.CACHE_FOLDER).exists()
    assert "TOY" not in set(batch_ratios(root, ["TOY", "ACME"])["ticker"])
