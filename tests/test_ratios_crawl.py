"""financial_ratios after a screener crawl of the sandbox over loopback: every ratio column,
values an independent recomputation from the statements on disk reproduces, resumable, and a
point-in-time as-of view."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from screener_crawler.data_loader import DataLoader
from screener_crawler.ratios.catalogue import RATIOS, VALUATION_RATIOS
from screener_crawler.ratios.compute import compute_ratios
from screener_crawler.sandbox import SandboxProcess
from tests.crawl import read_dataset, run_crawl, sandbox_env

KEY = "screener-ratios-key-71b2"
TICKERS = "AAPL,MSFT,NVDA,JPM,XOM"
SETTINGS = {"POLYGON_RATE_LIMIT": 0, "PRICES_START": "2018-01-01"}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("ratios")
    with SandboxProcess(keys=[KEY], universe_size=40, delisted=4) as sandbox:
        env = sandbox_env(sandbox, data_dir, KEY)
        result = run_crawl("screener", ("tickers", TICKERS), env=env, settings=SETTINGS)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
        again = run_crawl("screener", ("tickers", TICKERS), ("datasets", "financial_ratios"), ("force", "1"),
                          env=env, settings=SETTINGS)
        assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr[-3000:]
    return data_dir, again


def frame(data_dir, dataset, ticker):
    return DataLoader(data_dir).load(dataset, tickers=[ticker])


def test_financial_ratios_has_every_ratio_column_and_rows_for_each_timeframe(crawled):
    data_dir, _ = crawled
    table = read_dataset(data_dir, "financial_ratios")
    ratio_columns = [name for name in table.schema.names if name in {r.name for r in RATIOS}]
    assert len(ratio_columns) >= 121
    rows = table.to_pandas()
    assert set(rows["timeframe"]) == {"quarterly", "annual", "trailing_twelve_months"}
    assert (rows["available_date"] > rows["filing_date"]).all()
    ledger = json.loads((data_dir / "download_progress.json").read_text())
    assert set(ledger["datasets"]["financial_ratios"]["done"]) == set(TICKERS.split(","))


def test_values_match_an_independent_recomputation_from_the_statements(crawled):
    data_dir, _ = crawled
    checked = 0
    for ticker in TICKERS.split(","):
        ratios = frame(data_dir, "financial_ratios", ticker)
        income = frame(data_dir, "income_statements", ticker)
        balance = frame(data_dir, "balance_sheets", ticker)
        prices = frame(data_dir, "daily_prices", ticker).set_index("date")["close"]
        splits = frame(data_dir, "splits", ticker)
        reported = ratios[(ratios["timeframe"] == "quarterly") & ~ratios["q4_derived"].astype(bool)]
        merged = reported.merge(income, on=["period_end", "filing_date", "timeframe"]).merge(
            balance, on=["period_end", "filing_date", "timeframe"], suffixes=("", "_bs"))
        for row in merged.itertuples():
            if row.revenue and row.revenue > 0 and not pd.isna(row.gross_profit):
                assert row.gross_margin == pytest.approx(row.gross_profit / row.revenue)
                checked += 1
            if row.total_current_liabilities and row.total_current_liabilities > 0:
                assert row.current_ratio == pytest.approx(row.total_current_assets / row.total_current_liabilities)
            split = np.prod([s.split_to / s.split_from for s in splits.itertuples()
                             if row.period_end < s.execution_date <= row.available_date])
            close = prices.get(row.available_date)
            if close is not None:
                assert row.market_cap == pytest.approx(close * split * row.diluted_shares_outstanding)
    assert checked > 20


def test_recomputing_from_disk_sends_no_request(crawled):
    _, again = crawled
    assert "downloader/request_count" not in again.stats
    assert again.stats["units/complete/financial_ratios"] == 5


@pytest.mark.parametrize("day", ["2019-03-01", "2021-08-16", "2024-05-31"])
def test_ratios_asof_is_one_row_per_ticker_and_uses_nothing_filed_later(crawled, day):
    data_dir, _ = crawled
    asof = DataLoader(data_dir).ratios_asof(day)
    when = pd.Timestamp(day).date()
    every = DataLoader(data_dir).load_financial_ratios()
    usable = every[(every["timeframe"] == "trailing_twelve_months") & (every["available_date"] <= when)]
    assert asof["ticker"].is_unique and set(asof["ticker"]) == set(usable["ticker"]) and len(asof) >= 2
    assert (asof["filing_date"] <= when).all() and (asof["available_date"] <= when).all()
    assert (asof["price_date"].dropna() <= when).all()
    for row in asof.itertuples():
        statements = {d: (lambda f: f[f["filing_date"] <= when])(frame(data_dir, d, row.ticker))
                      for d in ("balance_sheets", "income_statements", "cash_flow")}
        splits = frame(data_dir, "splits", row.ticker)
        past = compute_ratios(row.ticker, statements, splits=splits[splits["execution_date"] <= when])
        same = past[(past["timeframe"] == row.timeframe) & (past["period_end"] == pd.Timestamp(row.period_end))]
        assert len(same) == 1
        for ratio in RATIOS:
            if not ratio.needs_price:
                expected, actual = same.iloc[0][ratio.name], getattr(row, ratio.name)
                assert (pd.isna(expected) and pd.isna(actual)) or actual == pytest.approx(expected), ratio.name


def test_ratios_asof_reprices_valuation_at_that_days_close(crawled):
    data_dir, _ = crawled
    loader = DataLoader(data_dir)
    asof = loader.ratios_asof("2024-05-31").set_index("ticker")
    for ticker, row in asof.iterrows():
        if pd.isna(row["close"]):
            continue
        prices = frame(data_dir, "daily_prices", ticker)
        last = prices[prices["date"] <= pd.Timestamp("2024-05-31").date()].iloc[-1]
        assert row["close"] == last["close"] and row["price_date"] == last["date"]
        assert row["market_cap"] == pytest.approx(row["close"] * row["split_factor"] * row["basis_cur_so"])
    assert any(not pd.isna(asof[r.name]).all() for r in VALUATION_RATIOS)


def test_latest_ratios_is_each_tickers_latest_row_from_one_file(crawled):
    data_dir, _ = crawled
    everything = read_dataset(data_dir, "financial_ratios").to_pandas()
    for timeframe in ("trailing_twelve_months", "quarterly", "annual"):
        expected = (everything[everything["timeframe"] == timeframe]
                    .sort_values(["ticker", "period_end", "filing_date"]).groupby("ticker").tail(1))
        latest = DataLoader(data_dir).latest_ratios(timeframe=timeframe)
        assert list(latest["ticker"]) == list(expected["ticker"]) and len(latest) >= 2
        assert list(latest["period_end"]) == list(expected["period_end"])
        assert list(latest["filing_date"]) == list(expected["filing_date"])
        pd.testing.assert_series_equal(latest["net_margin"].reset_index(drop=True),
                                       expected["net_margin"].reset_index(drop=True), check_names=False)
    assert (data_dir / "financial_ratios_latest" / "part-0.parquet").is_file()


def test_latest_ratios_reads_the_dataset_when_the_cross_section_file_is_missing(crawled, tmp_path):
    data_dir, _ = crawled
    columns = ["ticker", "period_end", "filing_date", "current_ratio"]
    from_file = DataLoader(data_dir).latest_ratios(tickers=["MSFT", "AAPL"], columns=columns)
    copy = tmp_path / "root"
    shutil.copytree(data_dir / "financial_ratios", copy / "financial_ratios")
    from_dataset = DataLoader(copy).latest_ratios(tickers=["MSFT", "AAPL"], columns=columns)
    assert list(from_file["ticker"]) == ["AAPL", "MSFT"]
    pd.testing.assert_frame_equal(from_file, from_dataset)
