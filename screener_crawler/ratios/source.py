"""Read the inputs of the ratios of a batch of tickers from their own files on disk (statements,
prices, splits), compute their ``financial_ratios`` rows and write their units. Blocking I/O:
call it from a worker process or a thread.

Only what the ratios use is read: the statement columns the aliases name, and of the daily
prices only the months that hold the first bar after each filing date (the filing's month, then
the following months while no later bar has been found). A Parquet file costs mostly its
footer, whatever it holds, so the number of files read is what the read costs.
"""

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from screener_crawler.datasets import DATASETS
from screener_crawler.polygon.fields import STATEMENTS, statement_line_items
from screener_crawler.ratios.catalogue import ALIASES
from screener_crawler.ratios.compute import RATIOS_SCHEMA, compute_many, to_table
from screener_crawler.ratios.latest import latest_rows
from screener_crawler.ratios.periods import META
from screener_crawler.storage import (
    by_ticker,
    unit_file_name,
    unit_files,
    unit_table,
    write_unit,
)

RATIO_INPUTS = (*STATEMENTS, "daily_prices", "splits")
"""Datasets a ticker's ratios are computed from."""

PRICE_COLUMNS = ["ticker", "date", "close"]
SPLIT_COLUMNS = ["ticker", "execution_date", "split_from", "split_to"]


def statement_columns(dataset):
    """The columns of a statement dataset the ratios read: the period's identity and the line
    items the aliases name."""
    named = {source.split(".", 1)[1] for alias in ALIASES for source in alias.sources
             if source.startswith(f"{dataset}.")}
    return [*META, *(column for column in statement_line_items(dataset) if column in named)]


def read_files(dataset, paths, columns):
    """``columns`` of the rows of the Parquet files ``paths`` of ``dataset``, in file order, as
    a DataFrame (dates as datetime64; a column a file lacks is null).

    Polars reads a list of small files for less than half the CPU of pyarrow (file by file or
    as a dataset): what it costs is the footers, ~0.25 ms a statement file. It is imported
    here, in the worker process that reads, rather than with the module: the crawl's own
    process imports this module only to name ``batch_ratios``, and polars adds 23 MB to it."""
    import polars as pl

    schema = pa.schema([DATASETS[dataset].schema.field(column) for column in columns])
    if not paths:
        return schema.empty_table().to_pandas(date_as_object=False)
    frame = pl.read_parquet([str(path) for path in paths], columns=columns, hive_partitioning=False, glob=False,
                            missing_columns="insert")
    return frame.rechunk().to_arrow().cast(schema).to_pandas(date_as_object=False)


def read_statements(root, tickers):
    """dataset -> the rows of ``tickers`` in that statement, in file order per ticker."""
    statements = {}
    for dataset in STATEMENTS:
        paths = [path for ticker in tickers for path in unit_files(root, DATASETS[dataset], ticker)]
        statements[dataset] = read_files(dataset, paths, statement_columns(dataset))
    return statements


def read_prices(root, filing_dates):
    """The daily prices (``PRICE_COLUMNS``) that hold, for every (ticker -> filing dates) of
    ``filing_dates``, the first bar after each date: month by month from the filing's month on,
    while a date has no later bar in the months read and later months exist."""
    spec = DATASETS["daily_prices"]
    base = Path(root) / spec.name
    last_month = _last_month(base)
    pending = {ticker: np.unique(pd.Series(days).dropna().to_numpy(dtype="datetime64[D]"))
               for ticker, days in filing_dates.items()}
    months_read = defaultdict(set)
    latest_bar = {}
    frames = []
    step = 0
    while pending and last_month is not None:
        paths = []
        for ticker, days in pending.items():
            for month in sorted(set((_months(days) + step).tolist()) - months_read[ticker]):
                months_read[ticker].add(month)
                path = _price_path(base, month, unit_file_name(spec, ticker))
                if month <= last_month and path.exists():
                    paths.append(path)
        prices = read_files("daily_prices", paths, PRICE_COLUMNS)
        frames.append(prices)
        latest_bar.update(prices.groupby(["ticker", _months(prices["date"].to_numpy())])["date"].max())
        pending = {ticker: left for ticker, days in pending.items()
                   if len(left := _unresolved(ticker, days, step, latest_bar, last_month))}
        step += 1
    return pd.concat(frames, ignore_index=True) if frames else read_files("daily_prices", [], PRICE_COLUMNS)


def _months(days):
    """Months since 1970-01 of datetime64 values."""
    return days.astype("datetime64[M]").astype("int64")


def _last_month(base):
    months = [f"{year.name[5:]}-{month.name[6:]}" for year in base.glob("year=*") for month in year.glob("month=*")]
    return int(_months(np.array(months, dtype="datetime64[M]")).max()) if months else None


def _price_path(base, month, name):
    year, month = divmod(month, 12)
    return base / f"year={1970 + year:04d}" / f"month={month + 1:02d}" / name


def _unresolved(ticker, days, step, latest_bar, last_month):
    """``days`` with no bar after them in the month ``step`` months after their own, and a
    later month left to look in."""
    months = _months(days) + step
    latest = np.array([latest_bar.get((ticker, month), np.datetime64("NaT")) for month in months.tolist()],
                      dtype="datetime64[D]")
    found = ~np.isnat(latest) & (latest > days)
    return days[~found & (months < last_month)]


def read_splits(root, tickers):
    spec = DATASETS["splits"]
    return read_files("splits", [path for ticker in tickers for path in unit_files(root, spec, ticker)],
                      SPLIT_COLUMNS)


def read_inputs(root, tickers):
    """(statements, prices, splits) of ``tickers`` from the files under ``root``, as
    ``compute_many`` takes them."""
    statements = read_statements(root, tickers)
    filed = pd.concat([frame[["ticker", "filing_date"]] for frame in statements.values()], ignore_index=True)
    filing_dates = {ticker: group.to_numpy() for ticker, group in filed.groupby("ticker")["filing_date"]}
    return statements, read_prices(root, filing_dates), read_splits(root, tickers)


def batch_ratios(root, tickers):
    """``compute_many`` of ``tickers`` from the files under ``root``."""
    return compute_many(*read_inputs(root, tickers))


def ticker_ratios(root, ticker):
    """``compute_ratios`` of ``ticker`` from the files under ``root``."""
    return batch_ratios(root, [ticker])


def compute_and_write(root, tickers):
    """Compute the ratios of ``tickers`` from their files under ``root`` and replace their units
    (blocking). Returns (ticker -> ``WriteResult`` or the exception that failed it, the latest
    rows of the written tickers for the cross-section, ``ratios/latest.py``). A batch that fails
    is computed again ticker by ticker, so one bad ticker fails alone."""
    try:
        computed = to_table(batch_ratios(root, tickers))
    except Exception as error:
        if len(tickers) == 1:
            return {tickers[0]: error}, None
        outcomes = [compute_and_write(root, [one]) for one in tickers]
        latest = [rows for _, rows in outcomes if rows is not None]
        return ({ticker: result for results, _ in outcomes for ticker, result in results.items()},
                pa.concat_tables(latest) if latest else None)
    units = dict(by_ticker(computed))
    results = {}
    dataset = DATASETS["financial_ratios"]
    downloaded_at = datetime.now(UTC)
    for ticker in tickers:
        try:
            results[ticker] = write_unit(root, dataset, ticker, units.get(ticker, RATIOS_SCHEMA.empty_table()),
                                         downloaded_at)
        except Exception as error:
            results[ticker] = error
    written = [ticker for ticker in tickers if not isinstance(results[ticker], Exception)]
    rows = computed.filter(pc.is_in(computed.column("ticker"), pa.array(written, pa.string())))
    return results, latest_rows(unit_table(dataset, rows, downloaded_at))
