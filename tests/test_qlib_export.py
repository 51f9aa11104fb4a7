"""``scrapy export-qlib`` (issue 35): a crawl of a few sandbox tickers (AAPL with its 4-for-1
split of 2020-08-31, BRK.B, ZNAFM with a 1-for-5 reverse split, C delisted in 2021), exported and
read back with ``tests/qlib_reader.py`` (written from the format's documentation), checked against
the Parquet datasets; and a small hand-made data root for what the sandbox has none of (a
restated filing, a missing bar, a Windows device name as a ticker). With pyqlib installed
(``requirements-qlib.txt``), Qlib itself reads the export too."""

import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from screener_crawler.data_loader import DataLoader
from screener_crawler.datasets import DATASETS
from screener_crawler.exports.qlib_export import export_qlib
from screener_crawler.exports.qlib_fields import DEFAULT_PIT_FIELDS, PRICE_FIELDS
from screener_crawler.exports.qlib_symbols import (
    qlib_code,
    qlib_folder,
    ticker_folder,
    ticker_from_code,
    ticker_from_folder,
)
from screener_crawler.sandbox import SandboxProcess
from screener_crawler.trading_calendar import trading_days
from tests import qlib_reader as qr
from tests.crawl import PROJECT_ROOT, run_crawl, sandbox_env

KEY = "qlib-export-key-5e1d"
TICKERS = ("AAPL", "BRK.B", "ZNAFM", "C", "MSFT")
HISTORY = "2020-06-01"
"""Early enough for AAPL's split of 2020-08-31, short enough for a quick crawl."""


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("qlib_root")
    with SandboxProcess(keys=[KEY], universe_size=40, delisted=4, history_start=HISTORY) as sandbox:
        result = run_crawl("screener", ("tickers", ",".join(TICKERS)), env=sandbox_env(sandbox, data_dir, KEY),
                           settings={"POLYGON_RATE_LIMIT": 0, "PRICES_START": HISTORY})
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return data_dir


def export_command(data_dir, out, *options):
    return subprocess.run([sys.executable, "-m", "scrapy", "export-qlib", "--data-dir", str(data_dir),
                           "--out", str(out), *options], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def exported(crawled, tmp_path_factory):
    out = tmp_path_factory.mktemp("qlib_out")
    result = export_command(crawled, out)
    assert result.returncode == 0, result.stderr[-3000:]
    return crawled, out


def prices(data_dir, ticker):
    frame = DataLoader(data_dir).load("daily_prices", tickers=[ticker])
    return frame.assign(date=pd.to_datetime(frame["date"])).set_index("date").sort_index()


def test_close_over_factor_is_the_traded_close_for_every_ticker(exported):
    data_dir, out = exported
    for ticker in TICKERS:
        code = qlib_code(ticker)
        bars = prices(data_dir, ticker)
        factor = qr.feature(out, code, "factor").reindex(bars.index)
        for name in ("open", "high", "low", "close", "vwap"):
            adjusted = qr.feature(out, code, name).reindex(bars.index)
            np.testing.assert_allclose(adjusted / factor, bars[name], rtol=1e-6, err_msg=f"{ticker} {name}")
        volume = qr.feature(out, code, "volume").reindex(bars.index)
        np.testing.assert_allclose(volume * factor, bars["volume"], rtol=1e-6, err_msg=f"{ticker} volume")


def test_factor_comes_from_the_splits_so_adjusted_prices_do_not_jump(exported):
    data_dir, out = exported
    factor = qr.feature(out, "AAPL", "factor")
    split = pd.Timestamp("2020-08-31")
    assert set(factor[factor.index < split].round(6)) == {0.25}
    assert set(factor[factor.index >= split].round(6)) == {1.0}
    traded, adjusted = prices(data_dir, "AAPL")["close"], qr.feature(out, "AAPL", "close")
    before, on = traded.index[traded.index < split][-1], split
    assert traded[on] / traded[before] < 0.5  # the traded close drops about 4x at the split
    assert 0.5 < adjusted[on] / adjusted[before] < 2  # the adjusted one does not
    reverse = qr.feature(out, "ZNAFM", "factor")  # 1-for-5 on 2021-09-28: five old shares became one
    assert set(reverse[reverse.index < pd.Timestamp("2021-09-28")].round(6)) == {5.0}


def test_calendar_is_the_exchange_sessions_and_bins_start_at_the_first_bar(exported):
    data_dir, out = exported
    days = qr.calendar(out)
    bars = DataLoader(data_dir).load("daily_prices", columns=["ticker", "date"])
    assert days == trading_days(min(bars["date"]), max(bars["date"]))
    spans = qr.instruments(out)
    for ticker in TICKERS:
        own = sorted(bars.loc[bars["ticker"] == ticker, "date"])
        assert spans[qlib_code(ticker)] == (own[0], own[-1])
        raw = np.fromfile(out / "features" / ticker_folder(ticker) / "close.day.bin", dtype="<f4")
        assert days[int(raw[0])] == own[0] and days[int(raw[0]) + len(raw) - 2] == own[-1]


def test_instruments_include_the_delisted_ticker_under_its_mapped_code(exported):
    _, out = exported
    spans = qr.instruments(out)
    assert set(spans) == {"AAPL", "BRK_B", "ZNAFM", "C", "MSFT"}
    assert spans["C"][1] < date(2022, 1, 1)  # delisted: its last bar, not the calendar's
    symbols = (out / "instruments" / "symbols.tsv").read_text().splitlines()
    assert "BRK.B\tBRK_B\tbrk_b" in symbols
    assert (out / "features" / "brk_b" / "close.day.bin").exists()


def test_pit_records_are_dated_by_availability_and_hold_the_statement_values(exported):
    data_dir, out = exported
    loader = DataLoader(data_dir)
    statements = loader.load("income_statements", tickers=["AAPL"]).query("timeframe == 'quarterly'")
    ratios = loader.load("financial_ratios", tickers=["AAPL"]).query("timeframe == 'quarterly'")
    rows = statements.merge(ratios[["period_end", "filing_date", "available_date", "return_on_equity"]],
                            on=["period_end", "filing_date"]).sort_values("available_date")
    assert len(rows) > 10
    written = qr.records(out, "AAPL", "revenue_q")
    expected = [(int(r.available_date.strftime("%Y%m%d")), int(r.fiscal_year * 100 + r.fiscal_quarter), r.revenue)
                for r in rows.itertuples()]
    assert [(d, p, v) for d, p, v, _ in written] == expected
    assert all(d > int(r.filing_date.strftime("%Y%m%d")) for (d, *_), r in zip(written, rows.itertuples()))
    for r in rows.itertuples():
        period = int(r.fiscal_year * 100 + r.fiscal_quarter)
        assert qr.pit_value(out, "AAPL", "revenue_q", r.available_date) == r.revenue
        earlier = qr.pit_value(out, "AAPL", "revenue_q", r.available_date - pd.Timedelta(days=1))
        assert earlier != r.revenue or np.isnan(earlier)  # not known the day before it became available
        if not np.isnan(r.return_on_equity):
            assert qr.revisions(out, "AAPL", "return_on_equity_q", period)[-1][1] == r.return_on_equity


def test_every_default_field_is_written_for_a_ticker_with_statements(exported):
    _, out = exported
    names = set(os.listdir(out / "financial" / "aapl"))
    for field in DEFAULT_PIT_FIELDS:
        for suffix in ("_q.data", "_q.index", "_a.data", "_a.index"):
            assert field + suffix in names
    assert {f"{name}.day.bin" for name in PRICE_FIELDS} == set(os.listdir(out / "features" / "aapl"))


def test_a_longer_calendar_rewrites_only_tickers_whose_files_change(crawled, tmp_path):
    out = tmp_path / "qlib"
    first = export_command(crawled, out, "--end", "2025-06-30")
    assert first.returncode == 0, first.stderr[-2000:]
    delisted = out / "features" / "c" / "close.day.bin"
    before = {path: path.stat().st_ino for path in (delisted, out / "features" / "aapl" / "close.day.bin")}
    days_before = qr.calendar(out)
    again = export_qlib(crawled, out, workers=1)
    days_after = qr.calendar(out)
    assert days_after[:len(days_before)] == days_before and len(days_after) > len(days_before)
    assert delisted.stat().st_ino == before[delisted]  # C's bars ended in 2021: its bins are what they were
    assert (out / "features" / "aapl" / "close.day.bin").stat().st_ino != before[out / "features" / "aapl" / "close.day.bin"]
    assert again.tickers_written == len(TICKERS) - 1 and again.tickers_unchanged == 1
    unchanged = export_qlib(crawled, out, workers=1)
    assert unchanged.tickers_written == 0 and unchanged.files == 4  # only the text files and the manifest


# --- a hand-made data root: a restatement, a missing bar, a device name --------------------------

NOW = datetime(2024, 2, 1, tzinfo=timezone.utc)
SESSIONS = [date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10)]


def write_dataset(root, name, rows):
    spec = DATASETS[name]
    table = pa.Table.from_pylist([{**row, "downloaded_at": NOW} for row in rows], schema=spec.schema)
    if spec.partition_date is None:
        path = root / name / ("universe.parquet" if name == "universe" else "part-0.parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        return
    frame = table.to_pandas()
    for (year, month), rows_of_month in frame.groupby([frame[spec.partition_date].map(lambda d: d.year),
                                                       frame[spec.partition_date].map(lambda d: d.month)]):
        path = root / name / f"year={year}" / f"month={month:02d}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(rows_of_month, schema=spec.schema, preserve_index=False), path)


def statement(period_end, filed, quarter, revenue):
    return {"ticker": "ABC", "timeframe": "quarterly", "fiscal_year": 2023, "fiscal_quarter": quarter,
            "period_end": period_end, "filing_date": filed, "source": "v1", "revenue": revenue}


@pytest.fixture
def hand_root(tmp_path):
    root = tmp_path / "root"
    bars = [{"ticker": ticker, "date": day, "open": 10.0 + i, "high": 11.0 + i, "low": 9.0 + i, "close": 10.5 + i,
             "volume": 1000.0 * (i + 1), "vwap": 10.2 + i}
            for ticker in ("ABC", "LPT1") for i, day in enumerate(SESSIONS)
            if not (ticker == "ABC" and day == date(2024, 1, 5))]
    write_dataset(root, "daily_prices", bars)
    write_dataset(root, "splits", [{"ticker": "ABC", "execution_date": date(2024, 1, 8), "split_from": 1.0,
                                    "split_to": 2.0, "source": "v1"}])
    write_dataset(root, "universe", [{"ticker": t, "active": True} for t in ("ABC", "LPT1", "NOBARS")])
    q3 = statement(date(2023, 9, 30), date(2023, 11, 1), 3, 90.0)
    q4 = statement(date(2023, 12, 31), date(2024, 1, 3), 4, 100.0)
    q4_restated = statement(date(2023, 12, 31), date(2024, 1, 8), 4, 110.0)
    q2_late = statement(date(2023, 6, 30), date(2024, 1, 5), 2, 80.0)  # no ratio row: dated from the bars
    write_dataset(root, "income_statements", [q3, q4, q4_restated, q2_late])
    ratio_keys = ("ticker", "timeframe", "fiscal_year", "fiscal_quarter", "period_end", "filing_date")
    write_dataset(root, "financial_ratios", [
        {**{k: row[k] for k in ratio_keys}, "available_date": available, "return_on_equity": roe}
        for row, available, roe in ((q3, date(2023, 11, 2), 0.1), (q4, date(2024, 1, 4), 0.2),
                                    (q4_restated, date(2024, 1, 9), 0.25))])
    return root


def test_a_restated_filing_is_a_later_revision_chained_from_the_first(hand_root, tmp_path):
    out = tmp_path / "qlib"
    export_qlib(hand_root, out, workers=1)
    assert qr.revisions(out, "ABC", "revenue_q", 202304) == [(20240104, 100.0), (20240109, 110.0)]
    assert qr.revisions(out, "ABC", "return_on_equity_q", 202304) == [(20240104, 0.2), (20240109, 0.25)]
    assert qr.pit_value(out, "ABC", "revenue_q", date(2024, 1, 3)) == 90.0  # Q4 not yet available
    assert qr.pit_value(out, "ABC", "revenue_q", date(2024, 1, 8)) == 100.0  # the first filing
    assert qr.pit_value(out, "ABC", "revenue_q", date(2024, 1, 9)) == 110.0  # the restatement
    dates = [record[0] for record in qr.records(out, "ABC", "revenue_q")]
    assert dates == sorted(dates)


def test_a_statement_without_a_ratio_row_is_dated_by_the_tickers_next_bar(hand_root, tmp_path):
    out = tmp_path / "qlib"
    export_qlib(hand_root, out, workers=1)
    assert qr.revisions(out, "ABC", "revenue_q", 202302) == [(20240108, 80.0)]  # filed 01-05, no bar that day


def test_a_day_without_a_bar_is_nan_and_the_split_adjusts_before_it(hand_root, tmp_path):
    out = tmp_path / "qlib"
    export_qlib(hand_root, out, workers=1)
    close, factor = qr.feature(out, "ABC", "close"), qr.feature(out, "ABC", "factor")
    assert np.isnan(close[pd.Timestamp("2024-01-05")]) and np.isnan(factor[pd.Timestamp("2024-01-05")])
    assert factor[pd.Timestamp("2024-01-04")] == 0.5 and factor[pd.Timestamp("2024-01-08")] == 1.0
    assert close[pd.Timestamp("2024-01-04")] == pytest.approx(12.5 * 0.5)


def test_a_device_name_ticker_lives_in_a_prefixed_folder_and_tickers_without_data_are_listed(hand_root, tmp_path):
    out = tmp_path / "qlib"
    export_qlib(hand_root, out, workers=1)
    assert (out / "features" / "_qlib_lpt1" / "close.day.bin").exists()
    assert set(qr.instruments(out)) == {"ABC", "LPT1"}
    symbols = (out / "instruments" / "symbols.tsv").read_text().splitlines()
    assert "LPT1\tLPT1\t_qlib_lpt1" in symbols and "NOBARS\tNOBARS\tnobars" in symbols


def test_new_data_for_one_ticker_rewrites_only_that_ticker(hand_root, tmp_path):
    out = tmp_path / "qlib"
    export_qlib(hand_root, out, workers=1)
    untouched = out / "features" / "_qlib_lpt1" / "close.day.bin"
    inode = untouched.stat().st_ino
    frame = pq.read_table(hand_root / "daily_prices" / "year=2024" / "month=01" / "part-0.parquet").to_pandas()
    frame.loc[(frame["ticker"] == "ABC") & (frame["date"] == date(2024, 1, 10)), "close"] = 99.0
    pq.write_table(pa.Table.from_pandas(frame, schema=DATASETS["daily_prices"].schema, preserve_index=False),
                   hand_root / "daily_prices" / "year=2024" / "month=01" / "part-0.parquet")
    summary = export_qlib(hand_root, out, workers=1)
    assert summary.tickers_written == 1 and untouched.stat().st_ino == inode
    assert qr.feature(out, "ABC", "close")[pd.Timestamp("2024-01-10")] == 99.0


def test_a_ticker_left_out_of_a_later_export_loses_its_folders(hand_root, tmp_path):
    out = tmp_path / "qlib"
    export_qlib(hand_root, out, workers=1)
    summary = export_qlib(hand_root, out, tickers=["ABC"], workers=1)
    assert summary.tickers_removed == 1 and not (out / "features" / "_qlib_lpt1").exists()
    assert set(qr.instruments(out)) == {"ABC"}


# --- the symbol mapping ---------------------------------------------------------------------------

SYMBOLS = ["AAPL", "BRK.B", "BRK.b", "ABRpD", "ABRPD", "CON", "con", "LPT1", "COM0", "AUX.A", ".X", "A_B",
           "A-B", "NUL1", "Aé"]


def test_symbol_mapping_is_reversible_and_folders_never_clash():
    folders = [ticker_folder(ticker) for ticker in SYMBOLS]
    assert len(set(folders)) == len(SYMBOLS)
    for ticker, name in zip(SYMBOLS, folders):
        assert ticker_from_folder(name) == ticker
        assert ticker_from_code(qlib_code(ticker)) == ticker
        assert name == qr.folder(qlib_code(ticker))  # what Qlib reads: code_to_fname(code).lower()
        assert "." not in name and name == name.lower()
    assert qlib_code("BRK.B") == "BRK_B" and qlib_folder("LPT1") == "_qlib_lpt1"
    assert "_qlib_lpt1".lstrip("_qlib_") == "pt1"  # why qlib's own fname_to_code is not used
    with pytest.raises(ValueError):
        ticker_from_folder("_qlib_abc")


# --- Qlib itself (requirements-qlib.txt) -----------------------------------------------------------

def test_qlib_reads_the_export(exported, tmp_path):
    qlib = pytest.importorskip("qlib")
    from qlib.data import D

    data_dir, out = exported
    copy = tmp_path / "provider"
    shutil.copytree(out, copy)  # Qlib may write caches beside the data
    qlib.init(provider_uri=str(copy), region="us")
    frame = D.features(["AAPL"], ["$close", "$factor", "P($$return_on_equity_q)"], start_time="2020-06-01",
                       freq="day")
    frame = frame.droplevel("instrument")
    bars = prices(data_dir, "AAPL")
    np.testing.assert_allclose(frame["$close"] / frame["$factor"], bars["close"].reindex(frame.index), rtol=1e-6)
    for day in (pd.Timestamp("2022-06-01"), pd.Timestamp("2024-03-01")):
        assert frame.loc[day, "P($$return_on_equity_q)"] == pytest.approx(
            qr.pit_value(out, "AAPL", "return_on_equity_q", day.date()), rel=1e-6)
