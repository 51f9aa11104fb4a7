"""Where a dataset's rows live (DESIGN §3): ``<root>/<dataset>/year=YYYY/month=MM/part-0.parquet``
holds every ticker's rows of that month of the partition date; a dataset without one is the
single file ``<root>/<dataset>/part-0.parquet`` (``universe/universe.parquet`` for the universe).
Partitions are keyed ``year * 100 + month``; 0 is the one file of an unpartitioned dataset."""

import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from screener_crawler.datasets import DATASETS, Dataset
from screener_crawler.storage.atomic import replace_atomically

PART_FILE = "part-0.parquet"
STAGING_DIR = "_staging"
RUNNING_MARKER = ".crawl.running"
"""Present in the data root while a crawl runs; found at start, the last crawl was killed."""
PARQUET_OPTIONS = {
    "compression": "zstd",
    "write_statistics": True,
}
"""And dictionaries for the string columns (a ticker, a timeframe repeat on many rows)."""
LOCAL_PARQUET = ds.ParquetFileFormat(default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False))
"""How datasets on a local disk are scanned: without the coalesced read-ahead of each file's
column chunks (meant for object stores; on a local disk it only adds work to every file a
read opens)."""


def file_name(dataset: Dataset) -> str:
    return "universe.parquet" if dataset.name == "universe" else PART_FILE


def partition_path(root: Path | str, dataset: Dataset, month: int = 0) -> Path:
    """The file of partition ``month`` (``year * 100 + month``; 0 when unpartitioned)."""
    base = Path(root) / dataset.name
    if dataset.partition_date is None:
        return base / file_name(dataset)
    year, month = divmod(month, 100)
    return base / f"year={year:04d}" / f"month={month:02d}" / PART_FILE


def published_partitions(root: Path | str, dataset: Dataset) -> dict[int, Path]:
    """Partition key -> file, of every partition of ``dataset`` on disk."""
    base = Path(root) / dataset.name
    if dataset.partition_date is None:
        path = base / file_name(dataset)
        return {0: path} if path.exists() else {}
    found = {}
    for year in _entries(base, "year="):
        for month in _entries(year, "month="):
            path = Path(month, PART_FILE)
            if path.exists():
                found[int(year.name[5:]) * 100 + int(month.name[6:])] = path
    return dict(sorted(found.items()))


def _entries(directory, prefix) -> list:
    try:
        return [entry for entry in os.scandir(directory) if entry.name.startswith(prefix) and entry.is_dir()]
    except FileNotFoundError:
        return []


def column_statistics(metadata: pq.FileMetaData, column: str) -> list | None:
    """Each row group's statistics of ``column`` (found by its Parquet path; None for a group
    written without them), or None when the file has no such column."""
    paths = [metadata.schema.column(leaf).path for leaf in range(metadata.num_columns)]
    if column not in paths:
        return None
    leaf = paths.index(column)
    return [metadata.row_group(group).column(leaf).statistics for group in range(metadata.num_row_groups)]


def write_partition_file(path: Path, table: pa.Table, row_group_rows: int) -> None:
    """Replace ``path`` with ``table`` (already in stored order). Not flushed to the disk one
    by one: publishing flushes them all at once before it deletes what it published."""
    strings = [field.name for field in table.schema if pa.types.is_string(field.type)]
    replace_atomically(path, lambda temporary: pq.write_table(table, temporary, use_dictionary=strings,
                                                              row_group_size=row_group_rows, **PARQUET_OPTIONS))


def remove_partition_file(path: Path) -> None:
    """Delete a partition that no longer holds a row, and its folders once empty."""
    path.unlink(missing_ok=True)
    for folder in (path.parent, path.parent.parent):
        try:
            folder.rmdir()
        except OSError:
            break


V1_LATEST_FILE = "financial_ratios_latest/financial_ratios_latest.parquet"


def v1_layout_files(root: Path | str) -> Iterator[Path]:
    """Files of the v1 layout (one per ticker: ``ticker=<T>.parquet``, and the v1 name of the
    ratio cross-section) under ``root``."""
    if (Path(root) / V1_LATEST_FILE).exists():
        yield Path(root) / V1_LATEST_FILE
    for name in DATASETS:
        for directory, _, names in os.walk(Path(root) / name):
            for entry in names:
                if entry.startswith("ticker=") and entry.endswith(".parquet"):
                    yield Path(directory, entry)


def has_v1_layout(root: Path | str) -> bool:
    return next(v1_layout_files(root), None) is not None


V1_LAYOUT_MESSAGE = ("{root} holds data in the old layout (one file per ticker, ticker=<T>.parquet). "
                     "Convert it first with: scrapy compact")
