"""The storage contract (DESIGN §3) as functions: where a unit's files go and how they are
replaced. No Scrapy here; the writer pipeline calls ``write_unit`` from a thread.

Layout: ``<root>/<dataset>/year=YYYY/month=MM/ticker=<T>.parquet``,
``<root>/<dataset>/ticker=<T>.parquet`` for a dataset without a partition date, and
``<root>/<dataset>/<dataset>.parquet`` for a market-wide table such as the universe.
Every write also records its files' facts for ``scrapy status`` (``file_facts.py``).
"""

import os
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from screener_crawler import file_facts
from screener_crawler.datasets import DOWNLOADED_AT

SAFE_TICKER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,19}$")

_unit_locks = defaultdict(threading.Lock)
_unit_locks_guard = threading.Lock()


def _unit_lock(dataset, ticker):
    """Writes of one (dataset, ticker) never overlap, whichever threads run them."""
    with _unit_locks_guard:
        return _unit_locks[(dataset.name, ticker)]


@dataclass
class WriteResult:
    rows: int
    duplicates: int
    files: int


def unit_file_name(dataset, ticker):
    """File name of a unit: ``ticker=<T>.parquet``, or ``<dataset>.parquet`` for a market table."""
    if not dataset.per_ticker:
        return f"{dataset.name}.parquet"
    if not isinstance(ticker, str) or not SAFE_TICKER.match(ticker) or ".." in ticker:
        raise ValueError(f"refusing to write a file for ticker {ticker!r}")
    return f"ticker={ticker}.parquet"


def unit_files(root, dataset, ticker=None):
    """The files that hold a unit's rows now (``ticker`` is None for a market table)."""
    base = Path(root) / dataset.name
    name = unit_file_name(dataset, ticker)
    if dataset.partition_date is None:
        path = base / name
        return [path] if path.exists() else []
    return sorted(Path(directory, name) for directory in _partition_directories(base)
                  if os.path.exists(os.path.join(directory, name)))


def _partition_directories(base):
    """The ``year=*/month=*`` folders under ``base``, listed with ``os.scandir`` (pathlib's glob
    spent a tenth of a crawl's CPU looking for the stale files of every unit)."""
    try:
        years = [entry.path for entry in os.scandir(base) if entry.name.startswith("year=")]
    except FileNotFoundError:
        return []
    return [entry.path for year in years for entry in os.scandir(year)
            if entry.name.startswith("month=") and entry.is_dir()]


def partition_dir(root, dataset, year=None, month=None):
    """The folder of a Hive partition; the dataset's own folder when it has no partition date."""
    base = Path(root) / dataset.name
    if dataset.partition_date is None:
        return base
    return base / f"year={year:04d}" / f"month={month:02d}"


def stampless_schema(dataset):
    """The dataset's schema without ``downloaded_at``, which is added when a unit is written."""
    return dataset.schema.remove(dataset.schema.get_field_index(DOWNLOADED_AT.name))


def records_table(dataset, records):
    """``records`` (dicts of the dataset's columns, values already of the schema's types) as
    one table of ``stampless_schema``."""
    return pa.Table.from_pylist(list(records), schema=stampless_schema(dataset))


_empty_tables = {}


def empty_table(dataset):
    """No rows, in ``stampless_schema``: made once per dataset, since most tickers' units of
    splits and ticker events are empty, and a listing completes a hundred of them at once.
    Kept by the dataset's name: hashing a ``Dataset`` hashes its whole schema."""
    if dataset.name not in _empty_tables:
        _empty_tables[dataset.name] = stampless_schema(dataset).empty_table()
    return _empty_tables[dataset.name]


def as_table(dataset, rows):
    return rows if isinstance(rows, pa.Table) else records_table(dataset, rows)


def deduplicate(dataset, table):
    """``table`` without the rows whose natural key repeats an earlier row's (the first is
    kept, order unchanged), and how many went."""
    if table.num_rows < 2:
        return table, 0
    keys = list(dataset.natural_key)
    numbered = table.select(keys).append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    first = numbered.group_by(keys, use_threads=False).aggregate([("__row", "min")]).column("__row_min")
    if len(first) == table.num_rows:
        return table, 0
    return table.take(first.sort()), table.num_rows - len(first)


def by_ticker(table):
    """(ticker, its rows) for each ticker of ``table``, in ticker order."""
    if table.num_rows == 0:
        return
    tickers = table.column("ticker")
    if pc.count_distinct(tickers).as_py() == 1:
        yield tickers[0].as_py(), table
        return
    table = table.sort_by("ticker")
    start = 0
    for entry in pc.value_counts(table.column("ticker")).to_pylist():
        yield entry["values"], table.slice(start, entry["counts"])
        start += entry["counts"]


def remove_temporaries(root):
    """Delete the temporary files ``write_atomically`` leaves when killed; how many went."""
    removed = 0
    for directory, _, names in os.walk(root):
        for name in names:
            if name.startswith(".") and name.endswith(".tmp"):
                Path(directory, name).unlink(missing_ok=True)
                removed += 1
    return removed


_known_directories = set()


def replace_atomically(path, write):
    """Call ``write(temporary)`` on a hidden temporary name beside ``path``, then rename it
    into place: readers see the old file or the new one, never a half-written one."""
    path = Path(path)
    if path.parent not in _known_directories:
        path.parent.mkdir(parents=True, exist_ok=True)
        _known_directories.add(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        try:
            write(temporary)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


PARQUET_OPTIONS = {"use_dictionary": False, "compression": "none"}
"""Most files hold a few rows of one ticker's month: dictionaries and compression cost a
fifth of the write's CPU and save next to nothing. Statistics stay (``scrapy status`` counts
nulls from them), and so does the Arrow schema in the footer."""


def write_parquet(table, path):
    """Write ``table`` to ``path`` as Parquet, encoded in memory first: written straight to a
    file, the Parquet writer asks the file for its position (an ``lseek``) and writes (a
    ``write``) once per column, a tenth of a small wide file's CPU (``bench/parquet_writes.py``)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    with open(path, "wb") as handle:
        handle.write(sink.getvalue())


def write_atomically(table, path):
    """Write ``table`` to ``path`` as Parquet through ``replace_atomically``."""
    replace_atomically(path, lambda temporary: write_parquet(table, temporary))


def record_facts(root, dataset, unit, facts):
    """Replace ``unit``'s facts file (``file_facts.py``) with ``facts``, after its files."""
    text = file_facts.document(dataset, facts)
    replace_atomically(file_facts.facts_path(root, dataset, unit), lambda temporary: Path(temporary).write_text(text))


def write_unit(root, dataset, ticker, rows, downloaded_at):
    """Replace ``ticker``'s files of ``dataset`` (the whole table when not per ticker) with
    ``rows`` (a table of ``stampless_schema``, or a list of records).

    New files are renamed into place first; only then are the ticker's files in partitions it
    no longer has removed, so a crash leaves either the old unit or the new one per partition,
    never a half-written file. Running it twice with the same rows leaves the same rows.
    """
    name = unit_file_name(dataset, ticker)
    with _unit_lock(dataset, ticker):
        unique, duplicates = deduplicate(dataset, as_table(dataset, rows))
        written, facts = set(), []
        for directory, table in partitions(root, dataset, unit_table(dataset, unique, downloaded_at)):
            path = directory / name
            write_atomically(table, path)
            written.add(path)
            facts.append(file_facts.fact(root, dataset, path, table))
        for stale in unit_files(root, dataset, ticker):
            if stale not in written:
                stale.unlink(missing_ok=True)
        record_facts(root, dataset, name.removesuffix(".parquet"), facts)
        return WriteResult(rows=unique.num_rows, duplicates=duplicates, files=len(written))


def unit_table(dataset, table, downloaded_at):
    """``table`` in the dataset's full schema, every row stamped ``downloaded_at``."""
    stamp = pa.array([downloaded_at] * table.num_rows, DOWNLOADED_AT.type)
    return pa.Table.from_arrays([*table.columns, stamp], schema=dataset.schema)


def partitions(root, dataset, table):
    """(directory, rows) per Hive partition of ``table``, rows sorted by the natural key."""
    sort_keys = [(column, "ascending") for column in dataset.natural_key]
    if dataset.partition_date is None:
        yield partition_dir(root, dataset), table.sort_by(sort_keys)
        return
    day = table.column(dataset.partition_date)
    month = pc.add(pc.multiply(pc.year(day), 100), pc.month(day))
    table = table.append_column("__month", month).sort_by([("__month", "ascending"), *sort_keys])
    months = table.column("__month").to_pylist()
    table = table.drop_columns(["__month"])
    start = 0
    for key, group in groupby(months):
        length = sum(1 for _ in group)
        yield partition_dir(root, dataset, key // 100, key % 100), table.slice(start, length)
        start += length


def write_partition(root, dataset, partition, rows, tickers, downloaded_at):
    """Replace, in one (year, month) partition, the file of every ticker in ``tickers`` with its
    rows (no file when it has none); the tickers' other partitions are left alone.
    Returns the rows written per ticker."""
    year, month = partition
    directory = partition_dir(root, dataset, year, month)
    pieces = dict(by_ticker(as_table(dataset, rows)))
    sort_keys = [(column, "ascending") for column in dataset.natural_key]
    written, facts = {}, []
    for ticker in sorted(tickers):
        path = directory / unit_file_name(dataset, ticker)
        with _unit_lock(dataset, ticker):
            if ticker not in pieces:
                path.unlink(missing_ok=True)
                continue
            unique, _ = deduplicate(dataset, pieces[ticker])
            table = unit_table(dataset, unique, downloaded_at).sort_by(sort_keys)
            write_atomically(table, path)
            written[ticker] = unique.num_rows
            facts.append(file_facts.fact(root, dataset, path, table))
    record_facts(root, dataset, f"partition={year:04d}-{month:02d}", facts)
    return written
