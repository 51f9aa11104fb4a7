"""Publishing: staged units merged into the partitions they touch (DESIGN §3).

For each partition a dataset's staged files touch, or that holds rows of a ticker they
replace everywhere: read the current file, drop the rows of every ticker being replaced, add
the staged rows (of each ticker, those of the newest file that replaces it), sort, write under
a temporary name, rename into place. Staged files are deleted only once all of them are
published, so a publish killed at any point is simply done again, with the same result.
"""

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from screener_crawler.datasets import STORED_DATASETS, Dataset
from screener_crawler.storage.layout import (
    published_partitions,
    partition_path,
    remove_partition_file,
    write_partition_file,
)
from screener_crawler.storage.staging import StagedFile, StagedHeader, StagingArea
from screener_crawler.storage.tables import sort_keys

logger = logging.getLogger(__name__)

EXISTING = -1
"""The sequence number of a partition's rows already published: older than any staged file."""
_publish_lock = threading.Lock()


@dataclass
class PublishReport:
    staged_files: int = 0
    partitions_written: dict = field(default_factory=lambda: defaultdict(int))
    rows_published: dict = field(default_factory=lambda: defaultdict(int))
    tickers_replaced: dict = field(default_factory=lambda: defaultdict(set))


def publish(root: Path | str, progress: Callable[[str], None] | None = None) -> PublishReport:
    """Publish every file staged under ``root`` now (files staged meanwhile wait for the next
    publish); one publish at a time per process."""
    area = StagingArea(root)
    report = PublishReport()
    with _publish_lock:
        staged = area.files()
        if not staged:
            return report
        report.staged_files = len(staged)
        by_dataset = defaultdict(list)
        for one in staged:
            by_dataset[one.dataset].append(one)
        for name, files in by_dataset.items():
            if progress:
                progress(f"publishing {name}: {len(files)} staged file(s)")
            publish_dataset(root, STORED_DATASETS[name], files, report)
        area.remove(staged)
    logger.info("Published %d staged file(s): %s", report.staged_files, ", ".join(
        f"{name} {count:,} partition(s)" for name, count in sorted(report.partitions_written.items())))
    return report


def publish_dataset(root: Path | str, dataset: Dataset, staged: list[StagedFile], report: PublishReport) -> None:
    headers = {one.sequence: StagingArea.header(one) for one in staged}
    everywhere, by_month, whole_table = _replacements(headers)
    existing = published_partitions(root, dataset)
    touched = {month for header in headers.values() for month in header.months} | set(by_month)
    if whole_table is not None:
        touched |= set(existing)
    elif everywhere:
        wanted = pa.array(sorted(everywhere), pa.string())
        touched |= {month for month, path in existing.items()
                    if month not in touched and _holds_any(path, wanted)}
    for month in sorted(touched):
        replaced = dict(everywhere)
        for ticker, sequence in by_month.get(month, {}).items():
            replaced[ticker] = max(sequence, replaced.get(ticker, EXISTING))
        pieces = [(EXISTING, _read_published(existing[month], dataset))] if month in existing else []
        pieces += [(one.sequence, StagingArea.read_month(one, headers[one.sequence], month))
                   for one in staged if month in headers[one.sequence].months]
        kept = [_rows_kept(rows, sequence, replaced, whole_table) for sequence, rows in pieces]
        merged = pa.concat_tables([rows for rows in kept if rows.num_rows] or [dataset.schema.empty_table()])
        path = partition_path(root, dataset, month)
        if merged.num_rows:
            write_partition_file(path, merged.sort_by(sort_keys(dataset)))
        else:
            remove_partition_file(path)
        report.partitions_written[dataset.name] += 1
        report.rows_published[dataset.name] += sum(rows.num_rows for rows in kept[1 if month in existing else 0:])
    for header in headers.values():
        report.tickers_replaced[dataset.name] |= header.tickers or set()


def _replacements(headers: dict[int, StagedHeader]):
    """(ticker -> newest sequence replacing it everywhere; month -> ticker -> newest sequence
    replacing it in that month; newest sequence replacing the whole table, or None)."""
    everywhere, by_month, whole_table = {}, defaultdict(dict), None
    for sequence, header in sorted(headers.items()):
        if header.tickers is None:
            whole_table = sequence
        elif header.scope is None:
            everywhere.update(dict.fromkeys(header.tickers, sequence))
        else:
            by_month[header.scope].update(dict.fromkeys(header.tickers, sequence))
    return everywhere, by_month, whole_table


def _rows_kept(rows: pa.Table, sequence: int, replaced: dict, whole_table: int | None) -> pa.Table:
    """The rows of a piece of ``sequence`` that no newer piece replaces."""
    if whole_table is not None and whole_table > sequence:
        return rows.slice(0, 0)
    superseded = [ticker for ticker, newest in replaced.items() if newest > sequence]
    if not superseded or rows.num_rows == 0:
        return rows
    return rows.filter(pc.invert(pc.is_in(rows.column("ticker"), pa.array(superseded, pa.string()))))


def _holds_any(path: Path, tickers: pa.Array) -> bool:
    column = pq.read_table(path, columns=["ticker"]).column("ticker")
    return pc.any(pc.is_in(column, tickers)).as_py() or False


def _read_published(path: Path, dataset: Dataset) -> pa.Table:
    """A partition file's rows in the declared schema (a column the file lacks is null)."""
    table = pq.read_table(path)
    columns = [table.column(f.name).cast(f.type) if f.name in table.schema.names
               else pa.nulls(table.num_rows, f.type) for f in dataset.schema]
    return pa.Table.from_arrays(columns, schema=dataset.schema)
