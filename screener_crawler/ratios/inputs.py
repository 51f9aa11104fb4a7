"""The inputs of the ratios of many tickers, read from the published datasets: the statement
columns the aliases name, the splits, and of the daily prices only the first bar after each
filing date (all ``compute_many`` reads of them: a row's ``available_date`` and its close).

Blocking I/O: call from a thread.
"""

import contextlib
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from screener_crawler.datasets import DATASETS
from screener_crawler.polygon.fields import STATEMENTS, statement_line_items
from screener_crawler.ratios.catalogue import ALIASES
from screener_crawler.ratios.periods import META
from screener_crawler.storage.atomic import TEMPORARY_SUFFIX
from screener_crawler.storage.layout import LOCAL_PARQUET, STAGING_DIR, column_statistics, published_partitions

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


class RegroupedStatements:
    """The statement rows of the pass's groups of tickers (consecutive in sorted order), moved
    from month-major to ticker-major once: each statement partition is read once, its rows cut
    by group and appended to one Arrow file per (statement, group) in the staging folder, under
    a temporary name (a killed crawl's are removed at the next start). A group's rows are read
    back from its files, memory-mapped and copied into one piece per column (cutting a chunk's
    rows then takes one filter, not one per partition appended), and the files deleted. Reading the partitions for every
    group instead would decode every partition once per group: a partition's row groups each
    span a large share of the universe's tickers."""

    def __init__(self, root: Path | str, groups: list[list[str]]):
        directory = Path(root) / STAGING_DIR
        directory.mkdir(parents=True, exist_ok=True)
        self._first = {group[0]: index for index, group in enumerate(groups)}
        self._files = {dataset: _regroup(root, dataset, statement_columns(dataset), groups, directory)
                       for dataset in STATEMENTS}

    def rows_of(self, group: list[str]) -> dict[str, pa.Table]:
        """dataset -> the rows of ``group`` (one of the groups given) in that statement."""
        index = self._first[group[0]]
        rows = {}
        for dataset, files in self._files.items():
            path = files.pop(index)
            rows[dataset] = ipc.open_file(pa.memory_map(str(path))).read_all().combine_chunks()
            path.unlink()
        return rows

    def remove(self) -> None:
        """Delete the files of the groups not read."""
        for files in self._files.values():
            for path in files.values():
                path.unlink(missing_ok=True)
            files.clear()


def _regroup(root: Path | str, dataset: str, columns: list[str], groups: list[list[str]],
             directory: Path) -> dict[int, Path]:
    """Group index -> an Arrow file of the rows of that group's tickers in ``dataset``."""
    schema = pa.schema([DATASETS[dataset].schema.field(column) for column in columns])
    tickers = pa.array(sorted({ticker for group in groups for ticker in group}), pa.string())
    bounds = np.array([group[-1] for group in groups], dtype=object)
    paths = {index: directory / f".ratio-inputs.{dataset}.{index}.{os.getpid()}{TEMPORARY_SUFFIX}"
             for index in range(len(groups))}
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(ipc.new_file(paths[index], schema)) for index in range(len(groups))]
        for partition in published_partitions(root, DATASETS[dataset]).values():
            rows = pq.read_table(partition, columns=columns, use_threads=False)
            rows = rows.filter(pc.is_in(rows.column("ticker"), value_set=tickers)).cast(schema)
            if not rows.num_rows:
                continue
            group_of = np.searchsorted(bounds, rows.column("ticker").to_numpy(zero_copy_only=False), side="left")
            order = np.argsort(group_of, kind="stable")
            rows, group_of = rows.take(pa.array(order)), group_of[order]
            edges = np.searchsorted(group_of, np.arange(len(groups) + 1), side="left")
            for index, (start, stop) in enumerate(zip(edges, edges[1:])):
                if stop > start:
                    writers[index].write_table(rows.slice(start, stop - start))
    return paths


def read_splits(root: Path | str, tickers: list[str]) -> pa.Table:
    return read_rows(root, "splits", tickers, SPLIT_COLUMNS)


def _keys(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    return (codes.astype(np.int64) << _DAY_BITS) + days.astype(np.int64) + (1 << (_DAY_BITS - 1))


def _day_numbers(column) -> np.ndarray:
    return pc.cast(column, pa.int32()).to_numpy(zero_copy_only=False)


def _filing_keys(root: Path | str, names: pa.Array) -> np.ndarray:
    """The (ticker, filing day) keys of the statements of ``names`` (sorted), unique and sorted;
    read a partition at a time, so that only the keys are held, never the rows of all of them."""
    keys = [np.empty(0, np.int64)]
    if not len(names):
        return keys[0]
    low, high = names[0].as_py(), names[-1].as_py()
    for dataset in STATEMENTS:
        for partition in published_partitions(root, DATASETS[dataset]).values():
            with pq.ParquetFile(partition) as file:
                filings = file.read_row_groups(_row_groups_between(file, low, high),
                                               columns=["ticker", "filing_date"], use_threads=False)
            codes = pc.index_in(filings.column("ticker"), value_set=names)
            filings = filings.filter(pc.is_valid(codes))
            keys.append(np.unique(_keys(pc.drop_null(codes).to_numpy(), _day_numbers(filings.column("filing_date")))))
    return np.unique(np.concatenate(keys))


def _row_groups_between(file: pq.ParquetFile, low: str, high: str) -> list[int]:
    """The row groups of ``file`` whose ``ticker`` statistics overlap ``low``..``high`` (and
    those without statistics)."""
    return [group for group, statistics in enumerate(column_statistics(file.metadata, "ticker"))
            if statistics is None or not statistics.has_min_max or (statistics.min <= high and statistics.max >= low)]


def first_bars_after_filings(root: Path | str, tickers: list[str]) -> pa.Table:
    """For every filing date of ``tickers`` in the statements, the ticker's first daily bar
    after it (``ticker``, ``date``, ``close``; one row per bar). One pass over the months of
    ``daily_prices`` in date order, each month read only while some filing still waits for a
    bar after it there, for the waiting tickers only."""
    names = pa.array(sorted(set(tickers)), pa.string())
    waiting = _filing_keys(root, names)
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
