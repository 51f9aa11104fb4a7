"""A dataset's published partition files, read by their Parquet footers and their ``ticker``
column: files, bytes, rows, distinct tickers, each file's Arrow schema against the declared
one, and per-column null counts from the row-group statistics (coverage). Files in the
dataset's folder that the layout does not put there are listed as stray: every reader of the
folder (pyarrow, polars, DuckDB) would read them too."""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from screener_crawler.datasets import Dataset
from screener_crawler.storage.layout import column_statistics, published_partitions

IGNORED_PREFIXES = (".", "_")
"""Names that dataset readers skip (pyarrow's default): temporaries, ``_SUCCESS`` and such."""


@dataclass(frozen=True)
class SchemaMismatch:
    file: str
    """Relative to the data root."""
    problem: str
    columns: tuple[str, ...]
    """The columns that differ: extra, missing, retyped or out of place."""


@dataclass
class PartitionTally:
    """What the files of one dataset hold, summed over its partitions."""

    dataset: Dataset
    files: int = 0
    bytes: int = 0
    rows: int = 0
    tickers: set[str] = field(default_factory=set)
    null_counts: list[int] = field(default_factory=list)
    """Per declared column: nulls in the row groups whose footer counts them."""
    counted_rows: list[int] = field(default_factory=list)
    """Per declared column: rows of those row groups (the denominator of its coverage)."""
    schema_mismatches: list[SchemaMismatch] = field(default_factory=list)
    older_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """File -> the nullable columns it lacks, declared since it was written: readers and the
    next publish of its partition read them as null, so it is no fault."""
    unreadable: dict[str, str] = field(default_factory=dict)
    """File (relative to the data root) -> why it could not be read."""
    stray_files: list[str] = field(default_factory=list)
    through: date | None = None
    """The latest value of the dataset's partition date on disk (from the files' statistics):
    how current the dataset is, e.g. ``daily_prices`` through its last bar's day."""

    def __post_init__(self):
        self.null_counts = self.null_counts or [0] * len(self.dataset.columns)
        self.counted_rows = self.counted_rows or [0] * len(self.dataset.columns)

    def coverage(self) -> dict[str, float | None]:
        """Non-null % per column; None where no footer counts its nulls (list columns, no rows)."""
        return {column: (round(100.0 * (counted - nulls) / counted, 2) if counted else None)
                for column, nulls, counted in zip(self.dataset.columns, self.null_counts, self.counted_rows)}


def tally_partitions(root: Path, dataset: Dataset, progress: Callable[[str], None] | None = None) -> PartitionTally:
    """Read the footer and the ``ticker`` column of every partition file of ``dataset``."""
    tally = PartitionTally(dataset)
    paths = list(published_partitions(root, dataset).values())
    for number, path in enumerate(paths, 1):
        if progress:
            progress(f"reading {dataset.name} {number:,}/{len(paths):,}")
        _tally_file(tally, root, path)
    expected = set(paths)
    tally.stray_files = [_relative(path, root) for path in visible_files(Path(root) / dataset.name)
                         if path not in expected]
    return tally


def visible_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` that a dataset reader would read, sorted."""
    found = []
    for directory, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(IGNORED_PREFIXES)]
        found += [Path(directory, name) for name in names if not name.startswith(IGNORED_PREFIXES)]
    return sorted(found)


def _tally_file(tally: PartitionTally, root: Path, path: Path) -> None:
    relative, size = _relative(path, root), 0
    try:
        size = path.stat().st_size
        with pq.ParquetFile(path, read_dictionary=["ticker"]) as parquet:
            metadata = parquet.metadata
            schema = metadata.schema.to_arrow_schema()
            tickers = _distinct_tickers(parquet) if _has_ticker_strings(schema) else []
    except FileNotFoundError:
        return  # published away (a partition left empty) while we looked
    except Exception as error:  # not Parquet, truncated, empty, a bad page, no permission
        tally.files += 1
        tally.bytes += size
        tally.unreadable[relative] = f"{type(error).__name__}: {error}"
        return
    tally.files += 1
    tally.bytes += size
    tally.rows += metadata.num_rows
    tally.tickers.update(tickers)
    latest = _latest_partition_date(tally.dataset, metadata)
    if latest is not None and (tally.through is None or latest > tally.through):
        tally.through = latest
    if not schema.equals(tally.dataset.schema):
        added = columns_added_since(schema, tally.dataset.schema)
        if added:
            tally.older_files[relative] = added
            return
        problem, columns = describe_schema_difference(schema, tally.dataset.schema)
        tally.schema_mismatches.append(SchemaMismatch(relative, problem, columns))
        return
    _count_nulls(tally, metadata)


def _latest_partition_date(dataset: Dataset, metadata: pq.FileMetaData) -> date | None:
    """The largest value of ``dataset.partition_date`` in a file, from its row groups'
    statistics; None when the dataset has no partition date or a group has no statistics."""
    if dataset.partition_date is None:
        return None
    groups = column_statistics(metadata, dataset.partition_date)
    if groups is None:
        return None
    latest = None
    for statistics in groups:
        if statistics is None or not statistics.has_min_max:
            return None
        latest = statistics.max if latest is None else max(latest, statistics.max)
    return latest


def _has_ticker_strings(schema: pa.Schema) -> bool:
    index = schema.get_field_index("ticker")
    return index >= 0 and schema.field(index).type == pa.string()


def _distinct_tickers(parquet: pq.ParquetFile) -> list[str]:
    """The tickers of a file, from its dictionary-encoded ``ticker`` column."""
    column = parquet.read(columns=["ticker"]).column("ticker")
    distinct = [chunk.dictionary.take(pc.unique(chunk.indices)) if pa.types.is_dictionary(chunk.type)
                else pc.unique(chunk) for chunk in column.chunks]
    return pc.unique(pa.chunked_array(distinct, pa.string())).to_pylist() if distinct else []


def _count_nulls(tally: PartitionTally, metadata: pq.FileMetaData) -> None:
    position = {name: index for index, name in enumerate(tally.dataset.columns)}
    leaves = []
    for leaf in range(metadata.num_columns):
        top = metadata.schema.column(leaf).path.split(".")[0]
        if tally.dataset.null_counted[position[top]]:
            leaves.append((leaf, position[top]))
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for leaf, column in leaves:
            statistics = row_group.column(leaf).statistics
            if statistics is not None and statistics.has_null_count:
                tally.null_counts[column] += statistics.null_count
                tally.counted_rows[column] += row_group.num_rows


def columns_added_since(actual: pa.Schema, expected: pa.Schema) -> tuple[str, ...]:
    """The nullable columns of ``expected`` that ``actual`` lacks when it is ``expected`` without
    them (a file written before they were declared); () for any other difference."""
    missing = tuple(f.name for f in expected if f.name not in actual.names)
    if not missing or any(expected.field(name).nullable is False for name in missing):
        return ()
    return missing if actual.equals(pa.schema([f for f in expected if f.name in actual.names])) else ()


def describe_schema_difference(actual: pa.Schema, expected: pa.Schema) -> tuple[str, tuple[str, ...]]:
    """Why ``actual`` is not ``expected``, in a few words, and the columns concerned."""
    extra = [name for name in actual.names if name not in expected.names]
    missing = [name for name in expected.names if name not in actual.names]
    retyped = [name for name in expected.names
               if name in actual.names and not actual.field(name).equals(expected.field(name))]
    parts = []
    if extra:
        parts.append(f"extra column(s) {', '.join(extra)}")
    if missing:
        parts.append(f"missing column(s) {', '.join(missing)}")
    parts += [f"{name} is {_describe_field(actual.field(name))}, declared {_describe_field(expected.field(name))}"
              for name in retyped]
    columns = extra + missing + retyped
    if not parts:
        shared = [name for name in actual.names if name in expected.names]
        columns = [name for name, declared in zip(shared, (n for n in expected.names if n in shared))
                   if name != declared]
        parts.append(f"columns in another order ({', '.join(columns)})" if columns
                     else "differs from the declared schema")
    return "; ".join(parts), tuple(columns)


def _describe_field(schema_field: pa.Field) -> str:
    return f"{schema_field.type}{'' if schema_field.nullable else ' not null'}"


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()
