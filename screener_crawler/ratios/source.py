"""Read the inputs of the ratios of a batch of tickers (statements, prices, splits) from the
cache of what this crawl wrote (``input_cache.py``) or else from their own files, compute their
``financial_ratios`` rows and write their units. Blocking I/O: call it from a worker process or
a thread.

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
from screener_crawler.polygon.fields import STATEMENTS
from screener_crawler.ratios.compute import RATIOS_SCHEMA, compute_many, to_table
from screener_crawler.ratios.input_cache import (
    PRICE_COLUMNS,
    SPLIT_COLUMNS,
    CachedMonths,
    cached_unit,
    input_schema,
    statement_columns,
)
from screener_crawler.ratios.latest import latest_rows
from screener_crawler.storage import (
    by_ticker,
    unit_file_name,
    unit_files,
    unit_table,
    write_unit,
)


def read_table(dataset, paths, columns):
    """``columns`` of the rows of the Parquet files ``paths`` of ``dataset``, in file order (a
    column a file lacks is null).

    Polars reads a list of small files for less than half the CPU of pyarrow (file by file or
    as a dataset): what it costs is the footers, ~0.25 ms a statement file. It is imported
    here, in the worker process that reads, rather than with the module: the crawl's own
    process imports this module only to name ``compute_and_write``, and polars adds 23 MB."""
    import polars as pl

    schema = input_schema(dataset, columns)
    if not paths:
        return schema.empty_table()
    frame = pl.read_parquet([str(path) for path in paths], columns=columns, hive_partitioning=False, glob=False,
                            missing_columns="insert")
    return frame.rechunk().to_arrow().cast(schema)


def read_units(root, dataset, tickers, columns):
    """``columns`` of the rows of ``tickers`` in ``dataset`` as a DataFrame (dates as
    datetime64), each ticker's rows in file order: cached units, then the others' files."""
    cached = {ticker: cached_unit(root, dataset, ticker) for ticker in tickers}
    paths = [path for ticker in tickers if cached[ticker] is None
             for path in unit_files(root, DATASETS[dataset], ticker)]
    schema = input_schema(dataset, columns)
    tables = [table.select(columns).cast(schema) for table in cached.values() if table is not None]
    table = pa.concat_tables([*tables, read_table(dataset, paths, columns)])
    return table.to_pandas(date_as_object=False)


def read_statements(root, tickers):
    """dataset -> the rows of ``tickers`` in that statement, each ticker's in file order."""
    return {dataset: read_units(root, dataset, tickers, statement_columns(dataset)) for dataset in STATEMENTS}


def read_prices(root, filing_dates):
    """The daily prices (``PRICE_COLUMNS``) that hold, for every (ticker -> filing dates) of
    ``filing_dates``, the first bar after each date: month by month from the filing's month on,
    while a date has no later bar in the months read and later months exist. A ticker's prices
    cached whole (listed one ticker at a time) are taken whole; the months of grouped daily
    prices this crawl wrote are read from their cached closes."""
    spec = DATASETS["daily_prices"]
    base = Path(root) / spec.name
    last_month = _last_month(base)
    whole = {ticker: table for ticker in filing_dates if (table := cached_unit(root, spec.name, ticker)) is not None}
    pending = {ticker: np.unique(pd.Series(days).dropna().to_numpy(dtype="datetime64[D]"))
               for ticker, days in filing_dates.items() if ticker not in whole}
    months = CachedMonths(root)
    covered = months.covers(pending)
    months_read = defaultdict(set)
    latest_bar = {}
    frames = [table.cast(input_schema(spec.name)).to_pandas(date_as_object=False) for table in whole.values()]
    step = 0
    while pending and last_month is not None:
        paths, from_cache = [], defaultdict(list)
        for ticker, days in pending.items():
            for month in sorted(set((_months(days) + step).tolist()) - months_read[ticker]):
                months_read[ticker].add(month)
                if month > last_month:
                    continue
                if ticker in covered and _year_month(month) in months.held:
                    from_cache[month].append(ticker)
                else:
                    paths.append(_price_path(base, month, unit_file_name(spec, ticker)))
        found = [read_table(spec.name, [path for path in paths if path.exists()], PRICE_COLUMNS),
                 *(months.closes(*_year_month(month), tickers).cast(input_schema(spec.name))
                   for month, tickers in from_cache.items())]
        prices = pa.concat_tables(found).to_pandas(date_as_object=False)
        frames.append(prices)
        latest_bar.update(prices.groupby(["ticker", _months(prices["date"].to_numpy())])["date"].max())
        pending = {ticker: left for ticker, days in pending.items()
                   if len(left := _unresolved(ticker, days, step, latest_bar, last_month))}
        step += 1
    if not frames:
        return input_schema(spec.name).empty_table().to_pandas(date_as_object=False)
    return pd.concat(frames, ignore_index=True)


def _months(days):
    """Months since 1970-01 of datetime64 values."""
    return days.astype("datetime64[M]").astype("int64")


def _last_month(base):
    months = [f"{year.name[5:]}-{month.name[6:]}" for year in base.glob("year=*") for month in year.glob("month=*")]
    return int(_months(np.array(months, dtype="datetime64[M]")).max()) if months else None


def _year_month(month):
    """(year, month) of a count of months since 1970-01."""
    year, month = divmod(month, 12)
    return 1970 + year, month + 1


def _price_path(base, month, name):
    year, month = _year_month(month)
    return base / f"year={year:04d}" / f"month={month:02d}" / name


def _unresolved(ticker, days, step, latest_bar, last_month):
    """``days`` with no bar after them in the month ``step`` months after their own, and a
    later month left to look in."""
    months = _months(days) + step
    latest = np.array([latest_bar.get((ticker, month), np.datetime64("NaT")) for month in months.tolist()],
                      dtype="datetime64[D]")
    found = ~np.isnat(latest) & (latest > days)
    return days[~found & (months < last_month)]


def read_splits(root, tickers):
    return read_units(root, "splits", tickers, SPLIT_COLUMNS)


def read_inputs(root, tickers):
    """(statements, prices, splits) of ``tickers`` from the cache of this crawl's writes or the
    files under ``root``, as ``compute_many`` takes them."""
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
