"""The inputs of the ratios of many tickers, read from the published datasets: the statement
columns the aliases name, the splits, and of the daily prices only the first bar after each
filing date (all ``compute_many`` reads of them: a row's ``available_date`` and its close).

Blocking I/O: call from a thread.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from screener_crawler.datasets import DATASETS
from screener_crawler.polygon.fields import STATEMENTS, statement_line_items
from screener_crawler.ratios.catalogue import ALIASES
from screener_crawler.ratios.periods import META
from screener_crawler.storage.layout import LOCAL_PARQUET, published_partitions

RATIO_INPUTS = (*STATEMENTS, "daily_prices", "splits")
"""Datasets a ticker's ratios are computed from."""
UPDATED_RATIO_INPUTS = (*STATEMENTS, "splits")
"""Inputs whose rows, new in an update, put the tickers they touch back in the ratio pass. New
daily bars are not among them: a ratio row is priced by the first bar after its filing, so new
bars price only filings made since the last crawl, whose tickers the statements' update lists."""
PRICE_COLUMNS = ["ticker", "date", "close"]
SPLIT_COLUMNS = ["ticker", "execution_date", "split_from", "split_to"]
_DAY_BITS = 20
"""A (ticker, day) is one sortable integer: the ticker's position << 20, plus the day (days
since 1970 shifted by 2**19, so that every date of the datasets is positive)."""


def statement_columns(dataset: str) -> list[str]:
    """The columns of a statement dataset the ratios read: the period's identity, the endpoint
    it came from (``source``) and the line items the aliases name."""
    named = {source.split(".", 1)[1] for alias in ALIASES for source in alias.sources
             if source.startswith(f"{dataset}.")}
    return [*META, "source", *(column for column in statement_line_items(dataset) if column in named)]


def rows_of_tickers(files: ds.Dataset, columns: list[str], names: pa.Array) -> pa.Table:
    """``columns`` (``ticker`` among them) of the rows of ``names`` (sorted) in ``files``. The
    scan keeps the row groups whose ``ticker`` statistics overlap the range of ``names`` (rows
    are sorted by ticker; checking an ``isin`` of hundreds of tickers against every group's
    statistics costs more than the reading it saves); the rows of ``names`` are then picked."""
    in_range = (pc.field("ticker") >= names[0]) & (pc.field("ticker") <= names[-1])
    rows = files.to_table(columns=columns, filter=in_range)
    return rows.filter(pc.is_in(rows.column("ticker"), value_set=names))


def read_rows(root: Path | str, dataset: str, tickers: list[str], columns: list[str]) -> pa.Table:
    """``columns`` (``ticker`` among them) of the rows of ``tickers`` in ``dataset``; empty, in
    the declared types, when nothing is published."""
    schema = pa.schema([DATASETS[dataset].schema.field(column) for column in columns])
    base = Path(root) / dataset
    if not base.is_dir() or not tickers:
        return schema.empty_table()
    files = ds.dataset(base, schema=DATASETS[dataset].schema, format=LOCAL_PARQUET)
    return rows_of_tickers(files, columns, pa.array(sorted(set(tickers)), pa.string())).cast(schema)


def read_statements(root: Path | str, tickers: list[str]) -> dict[str, pa.Table]:
    """dataset -> the rows of ``tickers`` in that statement."""
    return {dataset: read_rows(root, dataset, tickers, statement_columns(dataset)) for dataset in STATEMENTS}


def read_splits(root: Path | str, tickers: list[str]) -> pa.Table:
    return read_rows(root, "splits", tickers, SPLIT_COLUMNS)


def _keys(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    return (codes.astype(np.int64) << _DAY_BITS) + days.astype(np.int64) + (1 << (_DAY_BITS - 1))


def _day_numbers(column) -> np.ndarray:
    return pc.cast(column, pa.int32()).to_numpy(zero_copy_only=False)


def first_bars_after_filings(root: Path | str, tickers: list[str]) -> pa.Table:
    """For every filing date of ``tickers`` in the statements, the ticker's first daily bar
    after it (``ticker``, ``date``, ``close``; one row per bar). One pass over the months of
    ``daily_prices`` in date order, each month read only while some filing still waits for a
    bar after it there, for the waiting tickers only."""
    names = pa.array(sorted(set(tickers)), pa.string())
    filings = pa.concat_tables([read_rows(root, dataset, names.to_pylist(), ["ticker", "filing_date"])
                                for dataset in STATEMENTS])
    codes = pc.index_in(filings.column("ticker"), value_set=names).to_numpy(zero_copy_only=False)
    waiting = np.unique(_keys(codes, _day_numbers(filings.column("filing_date"))))
    found = []
    for month, path in published_partitions(root, DATASETS["daily_prices"]).items():
        if not len(waiting):
            break
        year, number = divmod(month, 100)
        month_end = (np.datetime64(f"{year:04d}-{number:02d}", "M") + 1).astype("datetime64[D]").astype(np.int64)
        waiting_days = (waiting & ((1 << _DAY_BITS) - 1)) - (1 << (_DAY_BITS - 1))
        due = waiting[waiting_days < month_end - 1]
        if not len(due):
            continue
        due_tickers = names.take(pa.array(np.unique(due >> _DAY_BITS)))
        bars = rows_of_tickers(ds.dataset(path, format=LOCAL_PARQUET), PRICE_COLUMNS, due_tickers)
        if bars.num_rows == 0:
            continue
        bar_keys = _keys(pc.index_in(bars.column("ticker"), value_set=names).to_numpy(zero_copy_only=False),
                         _day_numbers(bars.column("date")))
        order = np.argsort(bar_keys, kind="stable")
        bar_keys = bar_keys[order]
        position = np.searchsorted(bar_keys, due, side="right")
        inside = position < len(bar_keys)
        hit = np.zeros(len(due), dtype=bool)
        hit[inside] = (bar_keys[position[inside]] >> _DAY_BITS) == (due[inside] >> _DAY_BITS)
        if hit.any():
            found.append(bars.take(pa.array(np.unique(order[position[hit]]))))
            waiting = np.setdiff1d(waiting, due[hit], assume_unique=True)
    schema = pa.schema([DATASETS["daily_prices"].schema.field(column) for column in PRICE_COLUMNS])
    return pa.concat_tables([bars.cast(schema) for bars in found]) if found else schema.empty_table()
