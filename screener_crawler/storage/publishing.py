"""Publishing: staged units merged into the partitions they touch (DESIGN §3).

For each partition a dataset's staged files touch, or that holds rows of a ticker they
replace everywhere: read the current file, drop the rows of every ticker being replaced, add
the staged rows (of each ticker, those of the newest file that replaces it), sort, write under
a temporary name, rename into place; a partition whose rows come out as they were, download
stamps aside, is left as it is. Upsert files (the fourth kind, ``stage_upsert``) take
their place in staging order: a row, on disk or staged, is dropped when a newer upsert file
holds its natural key, as when a newer file replaces its ticker; an upsert's own rows give way
to a newer file that replaces their ticker, or to a newer upsert of their key. Staged files are
deleted only once all of them are published, so a publish killed at any point is simply done
again, with the same result.
"""

import concurrent.futures
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from screener_crawler.datasets import DOWNLOADED_AT, STORED_DATASETS, Dataset
from screener_crawler.storage.layout import (
    published_partitions,
    partition_path,
    remove_partition_file,
    write_partition_file,
)
from screener_crawler.storage.staging import StagedFile, StagedHeader, StagingArea
from screener_crawler.storage.tables import sort_keys
from screener_crawler.work_threads import PARTITION_WRITES, executor

logger = logging.getLogger(__name__)

PUBLISHED = 0
"""The sequence of the rows already on disk: older than every staged file (numbered from 1)."""

_publish_lock = threading.Lock()


@dataclass
class PublishReport:
    staged_files: int = 0
    partitions_written: dict = field(default_factory=lambda: defaultdict(int))
    rows_published: dict = field(default_factory=lambda: defaultdict(int))
    partitions_unchanged: dict = field(default_factory=lambda: defaultdict(int))
    """Dataset -> partitions whose rows the staged ones left as they were (not rewritten)."""
    tickers_replaced: dict = field(default_factory=lambda: defaultdict(set))
    """Dataset -> the tickers the published files replaced, or upserted rows of."""


def publish(root: Path | str, progress: Callable[[str], None] | None = None,
            datasets: Iterable[str] | None = None) -> PublishReport:
    """Publish every file staged under ``root`` now, or only those of ``datasets`` (files
    staged meanwhile wait for the next publish); one publish at a time per process."""
    area = StagingArea(root)
    report = PublishReport()
    started = time.monotonic()
    with _publish_lock:
        staged = [one for one in area.files() if datasets is None or one.dataset in datasets]
        if not staged:
            return report
        report.staged_files = len(staged)
        by_dataset = defaultdict(list)
        for one in staged:
            by_dataset[one.dataset].append(one)
        with PartitionWriter() as writer:
            for name, files in by_dataset.items():
                if progress:
                    progress(f"publishing {name}: {len(files)} staged file(s)")
                publish_dataset(root, STORED_DATASETS[name], files, report, writer)
        os.sync()
        area.remove(staged)
    pa.default_memory_pool().release_unused()
    logger.info("Published %d staged file(s) in %.1f s: %s", report.staged_files, time.monotonic() - started,
                ", ".join(f"{name} {count:,} partition(s)" for name, count in sorted(report.partitions_written.items())))
    return report


def publish_dataset(root: Path | str, dataset: Dataset, staged: list[StagedFile], report: PublishReport,
                    writer: "PartitionWriter") -> None:
    """Merge each partition ``staged`` touches, and hand it to ``writer``."""
    readers = {one.sequence: StagedReader(one) for one in staged}
    headers = {sequence: reader.header for sequence, reader in readers.items()}
    everywhere, by_month, whole_table = _replacements(headers)
    superseded = _superseded(headers, everywhere, by_month)
    existing = published_partitions(root, dataset)
    touched = {month for header in headers.values() for month in header.months} | set(by_month)
    if whole_table is not None:
        touched |= set(existing)
    elif everywhere:
        wanted = pa.array(sorted(everywhere), pa.string())
        touched |= {month for month, path in existing.items()
                    if month not in touched and _holds_any(path, wanted)}
    upserts = {sequence for sequence, header in headers.items() if header.upsert}
    replaced_everywhere = pa.array(sorted(everywhere), pa.string())
    for month in sorted(touched):
        pieces = {}  # sequence (PUBLISHED: the file on disk) -> its rows no newer file replaces by ticker
        current = None
        if month in existing and (whole_table is None):
            replaced = replaced_everywhere
            if month in by_month:
                replaced = pa.array(sorted(set(everywhere) | set(by_month[month])), pa.string())
            current = read_published(existing[month], dataset)
            pieces[PUBLISHED] = _without(current, replaced)
        for sequence, reader in readers.items():
            if whole_table is not None and sequence < whole_table:
                continue
            rows = reader.month(month)
            if rows is not None:
                pieces[sequence] = _without(rows, superseded[sequence].get(month) or superseded[sequence].get(None))
        if upserts & pieces.keys():
            merged = _without_upserted(pieces, upserts, dataset.natural_key)
        else:
            merged = pa.concat_tables([rows for rows in pieces.values() if rows.num_rows]
                                      or [dataset.schema.empty_table()])
        path = partition_path(root, dataset, month)
        merged = merged.sort_by(sort_keys(dataset))
        if current is not None and _same_rows(current, merged):
            report.partitions_unchanged[dataset.name] += 1
            continue
        if merged.num_rows:
            writer.write(path, merged, dataset.row_group_rows)
        else:
            remove_partition_file(path)
        report.partitions_written[dataset.name] += 1
    for reader in readers.values():
        report.rows_published[dataset.name] += reader.rows
        report.tickers_replaced[dataset.name].update(reader.header.tickers or ())


RELEASE_EVERY_SECONDS = 1.0
"""How often, at most, a publish gives back to the system the memory freed meanwhile (after a
partition's write). The C library keeps what the threads free in their arenas; a publish of a
statement's 200 partitions, beside the page reads, would otherwise hold hundreds of MB freed
until its end."""


class PartitionWriter:
    """Writes partition files in a second thread, one at a time, while the caller merges the
    next (a write encodes and compresses with the GIL released). A write's error is raised by
    the next ``write`` or on leaving the ``with`` block, which waits for the last write."""

    def __init__(self):
        self._thread = executor(PARTITION_WRITES)
        self._writing = None
        self._released_at = time.monotonic()

    def write(self, path: Path, table: pa.Table, row_group_rows: int) -> None:
        self._wait()
        self._writing = self._thread.submit(self._write, path, table, row_group_rows)

    def _write(self, path: Path, table: pa.Table, row_group_rows: int) -> None:
        write_partition_file(path, table, row_group_rows)
        if time.monotonic() - self._released_at >= RELEASE_EVERY_SECONDS:
            pa.default_memory_pool().release_unused()
            self._released_at = time.monotonic()

    def _wait(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def __enter__(self) -> "PartitionWriter":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            concurrent.futures.wait([writing])
            if error_type is None:
                writing.result()


class StagedReader:
    """A staged file opened once for a whole publish: its header, and its rows of a partition,
    read when asked for (not memory-mapped: the pages of every staged file would stay mapped,
    and counted in the process's memory, until the end of the publish)."""

    def __init__(self, staged: StagedFile):
        self._reader = ipc.open_file(pa.OSFile(str(staged.path)))
        self.header = StagingArea.header_of(self._reader.schema)
        self._batches = {month: position for position, month in enumerate(self.header.months)}
        self.rows = 0
        """Rows read so far (a publish reads each month once)."""

    def month(self, month: int) -> pa.Table | None:
        if month not in self._batches:
            return None
        batch = self._reader.get_batch(self._batches[month])
        self.rows += batch.num_rows
        return pa.Table.from_batches([batch]).replace_schema_metadata()


def _replacements(headers: dict[int, StagedHeader]):
    """(ticker -> newest sequence replacing it everywhere; month -> ticker -> newest sequence
    replacing it in that month; newest sequence replacing the whole table, or None)."""
    everywhere, by_month, whole_table = {}, defaultdict(dict), None
    for sequence, header in sorted(headers.items()):
        if header.upsert:
            continue
        if header.tickers is None:
            whole_table = sequence
        elif header.scope is None:
            everywhere.update(dict.fromkeys(header.tickers, sequence))
        else:
            by_month[header.scope].update(dict.fromkeys(header.tickers, sequence))
    return everywhere, by_month, whole_table


def _superseded(headers, everywhere, by_month):
    """sequence -> {month or None (every month): the tickers of that staged file that a newer
    one replaces there}; empty unless a ticker was staged twice since the last publish."""
    superseded = {}
    for sequence, header in headers.items():
        tickers = header.tickers or ()
        newer_everywhere = {ticker for ticker in tickers if everywhere.get(ticker, -1) > sequence}
        found = {None: newer_everywhere} if newer_everywhere else {}
        for month, newest in by_month.items():
            if header.scope is not None and header.scope != month:
                continue
            newer = newer_everywhere | {ticker for ticker in tickers if newest.get(ticker, -1) > sequence}
            if newer != newer_everywhere:
                found[month] = newer
        superseded[sequence] = {key: pa.array(sorted(value), pa.string()) for key, value in found.items()}
    return superseded


def _without(rows: pa.Table, tickers: pa.Array | None) -> pa.Table:
    """``rows`` less those of ``tickers``."""
    if tickers is None or len(tickers) == 0 or rows.num_rows == 0:
        return rows
    return rows.filter(pc.invert(pc.is_in(rows.column("ticker"), tickers)))


def _without_upserted(pieces: dict[int, pa.Table], upserts: set[int], key: tuple) -> pa.Table:
    """The rows of ``pieces`` (sequence -> rows of one partition) in one table, less those whose
    natural ``key`` a newer piece of ``upserts`` holds (an upsert's keys are unique:
    ``stage_upsert`` deduplicates).

    Keys are matched by grouping every row's key at once: grouping treats nulls as equal, so a
    key with a null column (a dividend without a pay date) matches itself, which a join would
    not. Per key, the newest upsert holding it; a row goes when that is newer than its piece."""
    rows = pa.concat_tables(pieces.values())
    sequence = np.repeat(np.array(list(pieces), dtype=np.int64), [piece.num_rows for piece in pieces.values()])
    upserted_at = pa.array(sequence, mask=~np.isin(sequence, list(upserts)))
    groups = (rows.select(key)
              .append_column("__row", pa.array(np.arange(rows.num_rows, dtype=np.int64)))
              .append_column("__upserted_at", upserted_at)
              .group_by(list(key), use_threads=False)
              .aggregate([("__upserted_at", "max"), ("__row", "list")]))
    row = pc.list_flatten(groups.column("__row_list"))
    newest_upsert = pc.take(groups.column("__upserted_at_max"), pc.list_parent_indices(groups.column("__row_list")))
    replaced = pc.fill_null(pc.less(pc.take(pa.array(sequence), row), newest_upsert), False)
    kept = np.ones(rows.num_rows, dtype=bool)
    kept[pc.filter(row, replaced).to_numpy()] = False
    return rows.filter(pa.array(kept))


def _same_rows(published: pa.Table, merged: pa.Table) -> bool:
    """Whether a partition's merged rows are those it holds, download stamps aside (then the
    file stays as it is: an update rewrites only what changed)."""
    if published.num_rows != merged.num_rows:
        return False
    return published.drop_columns([DOWNLOADED_AT.name]).equals(merged.drop_columns([DOWNLOADED_AT.name]))


def _holds_any(path: Path, tickers: pa.Array) -> bool:
    column = pq.read_table(path, columns=["ticker"]).column("ticker")
    return pc.any(pc.is_in(column, tickers)).as_py() or False


def read_published(path: Path, dataset: Dataset) -> pa.Table:
    """A partition file's rows in the declared schema (a column the file lacks is null)."""
    table = pq.read_table(path)
    columns = [table.column(f.name).cast(f.type) if f.name in table.schema.names
               else pa.nulls(table.num_rows, f.type) for f in dataset.schema]
    return pa.Table.from_arrays(columns, schema=dataset.schema)
