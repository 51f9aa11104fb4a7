"""The ratio inputs a crawl writes, kept a second time where the ratios read them back cheaply.

A ticker's ratios are computed once its statements, prices and splits are written: at the end
of the crawl for most tickers, when the last month of grouped daily prices completes them all.
Read from the datasets, that is some 200 small Parquet files per ticker (one per filing month of
each statement, one month of prices per filing). A 10,070-ticker crawl has written 76 GB by
then, those files have long left the page cache, and the ratios waited on the disk: 1.2 tickers
a second, the workers at 12% of a core, 44% of the time in iowait.

So the job that writes an input unit in a crawl that computes ratios also writes the columns
the ratios read to ``<root>/.ratio_inputs``: one Arrow file per (dataset, ticker) unit, and one
per month of grouped daily prices with every ticker's closes. A ticker's inputs are then three
or four files, and the prices of a batch a file per month. The ratios read an input from here
when it is here and from the dataset's files otherwise (inputs written by an earlier crawl).
The writer pipeline empties the folder when a crawl opens and when it closes: it only ever
holds units written by the running crawl, after their files, with the same rows.
"""

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from screener_crawler.datasets import DATASETS
from screener_crawler.polygon.fields import STATEMENTS, statement_line_items
from screener_crawler.ratios.catalogue import ALIASES
from screener_crawler.ratios.periods import META
from screener_crawler.storage import (
    as_table,
    deduplicate,
    partitions,
    replace_atomically,
    unit_table,
    write_partition,
    write_unit,
)

RATIO_INPUTS = (*STATEMENTS, "daily_prices", "splits")
"""Datasets a ticker's ratios are computed from."""

CACHE_FOLDER = ".ratio_inputs"
PRICE_COLUMNS = ["ticker", "date", "close"]
SPLIT_COLUMNS = ["ticker", "execution_date", "split_from", "split_to"]
CODE = "ticker_code"
"""Months of prices name a ticker by its position in the sorted tickers of the grouped daily
listing (``tickers.arrow``), and are sorted by it: a batch's rows are found by binary search."""


def statement_columns(dataset):
    """The columns of a statement dataset the ratios read: the period's identity and the line
    items the aliases name."""
    named = {source.split(".", 1)[1] for alias in ALIASES for source in alias.sources
             if source.startswith(f"{dataset}.")}
    return [*META, *(column for column in statement_line_items(dataset) if column in named)]


def input_columns(dataset):
    """The columns of input ``dataset`` the ratios read."""
    if dataset in STATEMENTS:
        return statement_columns(dataset)
    return {"daily_prices": PRICE_COLUMNS, "splits": SPLIT_COLUMNS}[dataset]


def input_schema(dataset, columns=None):
    """``columns`` (by default ``input_columns``) with their types in ``dataset``."""
    schema = DATASETS[dataset].schema
    return pa.schema([schema.field(column) for column in columns or input_columns(dataset)])


def cache_folder(root):
    return Path(root) / CACHE_FOLDER


def empty(root):
    """Remove the cache (blocking; tens of thousands of files after a large crawl)."""
    shutil.rmtree(cache_folder(root), ignore_errors=True)


def _unit_path(root, dataset, ticker):
    return cache_folder(root) / dataset / f"ticker={ticker}.arrow"


def _month_path(root, year, month):
    return cache_folder(root) / "daily_prices" / f"month={year:04d}-{month:02d}.arrow"


def _tickers_path(root):
    return cache_folder(root) / "daily_prices" / "tickers.arrow"


def _write(path, table):
    def write(temporary):
        with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    replace_atomically(path, write)


def _read(path):
    """The table of an Arrow file, or None when there is none."""
    try:
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).read_all()
    except FileNotFoundError:
        return None


def write_unit_and_cache(root, dataset, ticker, rows, downloaded_at):
    """``write_unit``, then the unit's input columns to the cache, in the order its files hold
    them (month by month, then by natural key)."""
    result = write_unit(root, dataset, ticker, rows, downloaded_at)
    unique, _ = deduplicate(dataset, as_table(dataset, rows))
    ordered = [table for _, table in partitions(root, dataset, unit_table(dataset, unique, downloaded_at))]
    schema = input_schema(dataset.name)
    table = pa.concat_tables(ordered).select(schema.names) if ordered else schema.empty_table()
    _write(_unit_path(root, dataset.name, ticker), table)
    return result


def write_partition_and_cache(root, dataset, partition, rows, tickers, downloaded_at):
    """``write_partition`` of a month of daily prices, then its closes to the cache, for every
    ticker of ``tickers`` (a ticker with no row there has no bar that month)."""
    written = write_partition(root, dataset, partition, rows, tickers, downloaded_at)
    names = pa.array(sorted(tickers), pa.string())
    if not _tickers_path(root).exists():
        _write(_tickers_path(root), pa.table({"ticker": names}))
    unique, _ = deduplicate(dataset, as_table(dataset, rows))
    prices = unique.select(PRICE_COLUMNS)
    code = pc.index_in(prices.column("ticker"), value_set=names).cast(pa.int32())
    closes = pa.table({CODE: code, "date": prices.column("date"), "close": prices.column("close")})
    closes = closes.filter(pc.is_valid(code)).sort_by([(CODE, "ascending"), ("date", "ascending")])
    _write(_month_path(root, *partition), closes)
    return written


def cached_unit(root, dataset, ticker):
    """The cached input columns of (``dataset``, ``ticker``) written by this crawl, or None."""
    return _read(_unit_path(root, dataset, ticker))


class CachedMonths:
    """The months of grouped daily prices this crawl wrote, for the tickers of its listing."""

    def __init__(self, root):
        self._root = root
        listed = _read(_tickers_path(root))
        self._tickers = listed.column("ticker") if listed is not None else pa.array([], pa.string())
        self.held = {(int(path.stem[6:10]), int(path.stem[11:13]))
                     for path in (cache_folder(root) / "daily_prices").glob("month=*.arrow")}
        """(year, month) of the months cached."""

    def covers(self, tickers):
        """Those of ``tickers`` whose prices the cached months hold."""
        found = pc.is_in(pa.array(list(tickers), pa.string()), value_set=self._tickers)
        return {ticker for ticker, hit in zip(tickers, found.to_pylist(), strict=True) if hit}

    def closes(self, year, month, tickers):
        """(``ticker``, ``date``, ``close``) of covered ``tickers`` in a month ``held``."""
        table = _read(_month_path(self._root, year, month))
        codes = np.sort(pc.index_in(pa.array(sorted(tickers), pa.string()), value_set=self._tickers)
                        .to_numpy(zero_copy_only=False))
        column = table.column(CODE).to_numpy()
        starts, stops = np.searchsorted(column, codes, "left"), np.searchsorted(column, codes, "right")
        rows = np.concatenate([np.arange(start, stop) for start, stop in zip(starts, stops, strict=True)] or [[]])
        picked = table.take(pa.array(rows, pa.int64()))
        names = self._tickers.take(picked.column(CODE))
        return pa.table({"ticker": names, "date": picked.column("date"), "close": picked.column("close")})
