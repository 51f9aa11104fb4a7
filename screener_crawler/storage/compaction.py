"""Converting a data root from the v1 layout (one file per dataset, month and ticker:
``<dataset>/year=YYYY/month=MM/ticker=<T>.parquet``) to the current one (DESIGN §3), for
``scrapy compact``. No Scrapy here.

How. For each per-ticker dataset, the v1 files are read a batch of tickers at a time (every
file of those tickers, so memory is bounded by the batch, not by the root), checked against
the declared schema, and staged as replacing those tickers (``staging.py``), each row keeping
its ``downloaded_at``; then the dataset is published (``publishing.py``), and only then are
its v1 files deleted, with the folders they leave empty. The universe (same path in both
layouts) is rewritten whole first, then the v1 cross-section
``financial_ratios_latest/financial_ratios_latest.parquet`` is converted, by ticker (so that
until the very end, ``ticker=<T>.parquet`` files are left and the crawl refuses the root); the
v1 bookkeeping (``_file_facts/``, ``.ratio_inputs/``) goes last. One run at a time per root
(a lock on the root folder).

Crash safety. A run first removes the temporaries a killed run left and publishes what it
staged. Between a dataset's publish and the deletion of its v1 files, a journal
``_compact/<dataset>.json`` says that every v1 file of it is published: a run that finds the
journal only finishes the deletion. (Without it, a run killed part-way through the deletion
would leave a subset of a ticker's files, and staging that subset as the whole ticker would
drop the rest.) With no journal, every v1 file of the dataset is still there, and staging them
again replaces the same tickers with the same rows.

Mixed roots (published v2 rows of a ticker and v1 files of the same ticker; the crawl refuses
a root with v1 files, so they come from a killed ``compact`` or from the old code writing into a
converted root): per (dataset, ticker), the newer download wins, by ``downloaded_at``. The v1
rows replace the ticker's v2 rows when their latest stamp is as new or newer (as new: the v2
rows are this conversion's own, published by a killed run); otherwise the v1 files are
superseded, not converted, and moved to ``_v1_superseded/`` rather than deleted. Tickers with
v2 rows only are never touched: publishing replaces only the staged tickers' rows.

Files that cannot be converted without loss (unreadable; a column the schema does not declare
holding values; a type that does not cast; a null where the schema forbids one; rows of
another ticker than the file name's) are left in place, with every other v1 file of the same
(dataset, ticker), and reported: the root then still has the v1 layout.
"""

import fcntl
import json
import os
import shutil
import time
from array import array
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from screener_crawler.datasets import DATASETS, DERIVED_DATASETS, DOWNLOADED_AT, TICKER_DATASETS, Dataset
from screener_crawler.storage.atomic import fsync_directory, remove_temporaries, write_bytes_atomically
from screener_crawler.storage.layout import partition_path, published_partitions
from screener_crawler.storage.publishing import publish
from screener_crawler.storage.staging import WHOLE_TABLE, StagingArea
from screener_crawler.storage.tables import deduplicate

UNIVERSE = DATASETS["universe"]
LATEST = DERIVED_DATASETS["financial_ratios_latest"]
V1_LATEST_FILE = "financial_ratios_latest.parquet"
V1_BOOKKEEPING = ("_file_facts", ".ratio_inputs")
JOURNAL_DIR = "_compact"
SUPERSEDED_DIR = "_v1_superseded"
BATCH_TICKERS = 500
"""Tickers read and staged at a time: a batch of daily prices is about 170 v1 files and 3,400
rows a ticker."""
FILES_PER_TASK = 128
V1_PREFIX, V1_SUFFIX = "ticker=", ".parquet"

Progress = Callable[[str], None]


# --- What is on disk ------------------------------------------------------------------------

@dataclass
class V1Files:
    """The v1 files of one dataset: per ticker, indices into ``directories`` (four bytes a file
    rather than a path: the full universe holds 3.7 million of them)."""

    directories: list = field(default_factory=list)
    by_ticker: dict = field(default_factory=dict)

    def __len__(self):
        return sum(len(indices) for indices in self.by_ticker.values())

    def paths(self, ticker: str) -> list[str]:
        name = f"{V1_PREFIX}{ticker}{V1_SUFFIX}"
        return [os.path.join(self.directories[index], name) for index in self.by_ticker[ticker]]


def v1_files(root: Path | str, dataset: Dataset) -> V1Files:
    """Every ``ticker=<T>.parquet`` file under ``<root>/<dataset>``."""
    found = V1Files()
    for directory, _, names in os.walk(Path(root) / dataset.name):
        index = None
        for name in names:
            if name.startswith(V1_PREFIX) and name.endswith(V1_SUFFIX):
                if index is None:
                    index = len(found.directories)
                    found.directories.append(directory)
                ticker = name[len(V1_PREFIX):-len(V1_SUFFIX)]
                found.by_ticker.setdefault(ticker, array("I")).append(index)
    found.by_ticker = dict(sorted(found.by_ticker.items()))
    return found


def v1_latest_path(root: Path | str) -> Path:
    return Path(root) / LATEST.name / V1_LATEST_FILE


def journal_path(root: Path | str, dataset: Dataset) -> Path:
    return Path(root) / JOURNAL_DIR / f"{dataset.name}.json"


@dataclass
class Footprint:
    files: int = 0
    rows: int = 0
    bytes: int = 0


def published_footprint(root: Path | str, dataset: Dataset) -> Footprint:
    """Files, rows (from the footers) and bytes of a dataset's published partitions."""
    footprint = Footprint()
    for path in published_partitions(root, dataset).values():
        footprint.files += 1
        footprint.rows += pq.read_metadata(path).num_rows
        footprint.bytes += path.stat().st_size
    return footprint


def published_stamps(root: Path | str, dataset: Dataset) -> dict[str, tuple[int, object]]:
    """Ticker -> (rows, latest ``downloaded_at``) of a dataset's published rows, one partition
    at a time (two columns: bounded by the largest partition)."""
    stamps = {}
    for path in published_partitions(root, dataset).values():
        table = pq.read_table(path, columns=["ticker", DOWNLOADED_AT.name])
        grouped = table.group_by("ticker").aggregate([(DOWNLOADED_AT.name, "count"), (DOWNLOADED_AT.name, "max")])
        for ticker, rows, latest in zip(*(grouped.column(name).to_pylist() for name in (
                "ticker", f"{DOWNLOADED_AT.name}_count", f"{DOWNLOADED_AT.name}_max"))):
            before = stamps.get(ticker, (0, latest))
            stamps[ticker] = (before[0] + rows, max(before[1], latest))
    return stamps


# --- Reports ----------------------------------------------------------------------------------

@dataclass
class DatasetReport:
    """One dataset's conversion. ``v1_*``: the v1 files read; ``v2_*_before`` / ``v2_*``: its
    published partitions before and after. Row accounting: the v2 rows after must be the rows
    before, less those of the tickers replaced, plus the rows staged (v1 rows less natural-key
    duplicates and superseded tickers' rows)."""

    name: str
    v1_files: int = 0
    v1_rows: int = 0
    v1_bytes: int = 0
    v2_files_before: int = 0
    v2_rows_before: int = 0
    v2_bytes_before: int = 0
    v2_files: int = 0
    v2_rows: int = 0
    v2_bytes: int = 0
    staged_rows: int = 0
    duplicates: int = 0
    replaced_v2_rows: int = 0
    superseded: dict = field(default_factory=dict)
    """Ticker -> v1 rows not converted because the ticker's published rows are newer."""
    kept: dict = field(default_factory=dict)
    """Ticker -> why its v1 files cannot be converted (they are left in place)."""
    kept_files: int = 0
    resumed: bool = False
    """Published by an earlier, killed run (its figures come from that run's journal)."""

    @property
    def expected_rows(self) -> int:
        return self.v2_rows_before - self.replaced_v2_rows + self.staged_rows

    @property
    def rows_match(self) -> bool:
        return self.v2_rows == self.expected_rows

    @property
    def superseded_rows(self) -> int:
        return sum(self.superseded.values())

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "DatasetReport":
        return cls(**json.loads(data))


@dataclass
class CompactionReport:
    root: Path
    found_v1: bool = False
    datasets: dict = field(default_factory=dict)
    removed_temporaries: int = 0
    leftover_staged_files: int = 0
    removed_bookkeeping: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(report.rows_match and not report.kept for report in self.datasets.values())


# --- Reading v1 files -------------------------------------------------------------------------

_required = {}


def _required_columns(dataset: Dataset) -> tuple[str, ...]:
    """The columns declared not nullable (kept by the dataset's name: hashing a ``Dataset``
    hashes its whole schema)."""
    if dataset.name not in _required:
        _required[dataset.name] = tuple(declared.name for declared in dataset.schema if not declared.nullable)
    return _required[dataset.name]


def conform(dataset: Dataset, table: pa.Table, ticker: str | None = None) -> tuple[pa.Table | None, str | None]:
    """``table`` in the dataset's declared schema, or None and why it cannot be without loss."""
    schema = dataset.schema
    table = table.replace_schema_metadata(None)
    if not table.schema.equals(schema):
        for name in table.schema.names:
            if name not in schema.names and table.column(name).null_count != table.num_rows:
                return None, f"column {name} holds values but is not declared"
        columns = []
        for declared in schema:
            if declared.name not in table.schema.names:
                if not declared.nullable and table.num_rows:
                    return None, f"column {declared.name} is missing"
                columns.append(pa.nulls(table.num_rows, declared.type))
                continue
            column = table.column(declared.name)
            if column.type != declared.type:
                try:
                    column = column.cast(declared.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                    return None, f"column {declared.name} is {column.type}, not {declared.type}: {error}"
            columns.append(column)
        table = pa.Table.from_arrays(columns, schema=schema)
    for name in _required_columns(dataset):
        if table.column(name).null_count:
            return None, f"nulls in column {name}"
    if ticker is not None and table.num_rows and not pc.all(pc.equal(table.column("ticker"), ticker)).as_py():
        return None, "rows of another ticker than the file name's"
    return table, None


def read_v1_file(dataset: Dataset, path: str, ticker: str | None) -> tuple[pa.Table | None, str | None]:
    """A v1 file's rows in the declared schema, or None and why it cannot be converted."""
    try:
        with pq.ParquetFile(path) as parquet:
            table = parquet.read(use_threads=False)
    except Exception as error:  # garbage, truncated, empty, permission denied
        return None, f"unreadable {path}: {type(error).__name__}: {error}"
    table, problem = conform(dataset, table, ticker)
    return table, problem and f"{path}: {problem}"


@dataclass
class Unit:
    """The v1 files of one ticker of a dataset (``ticker`` None: a market-wide file, whose rows
    are of many tickers)."""

    ticker: str | None
    paths: list

    @property
    def key(self) -> str:
        return self.ticker or "*"


@dataclass
class UnitsRead:
    """The rows of the units read whole, in one table; what was read; the units left out
    (key -> why) because one of their files cannot be converted."""

    table: pa.Table
    files: int = 0
    bytes: int = 0
    kept: dict = field(default_factory=dict)
    kept_files: int = 0


def read_units(dataset: Dataset, units: list[Unit]) -> UnitsRead:
    """Read ``units`` and put their rows in one table at once: a v1 file is a few rows of up to
    300 columns, and holding tens of thousands of one-file tables until a batch is complete
    would cost far more memory than their rows."""
    tables, read = [], UnitsRead(dataset.schema.empty_table())
    for unit in units:
        pieces, size, problem = [], 0, None
        for path in unit.paths:
            size += os.path.getsize(path)
            table, problem = read_v1_file(dataset, path, unit.ticker)
            if problem:
                break
            if table.num_rows:
                pieces.append(table)
        if problem:
            read.kept[unit.key] = problem
            read.kept_files += len(unit.paths)
            continue
        tables += pieces
        read.files += len(unit.paths)
        read.bytes += size
    if tables:
        read.table = pa.concat_tables(tables).combine_chunks()
    return read


class Reader:
    """Reads units of v1 files in a thread pool, about ``FILES_PER_TASK`` files a task, and says
    how many files it has read."""

    def __init__(self, pool: ThreadPoolExecutor, total: int, progress: Progress):
        self._pool = pool
        self._total = total
        self._progress = progress
        self.done = 0

    def read(self, dataset: Dataset, units: list[Unit]) -> UnitsRead:
        tasks, task, files = [], [], 0
        for unit in units:
            task.append(unit)
            files += len(unit.paths)
            if files >= FILES_PER_TASK:
                tasks.append(task)
                task, files = [], 0
        if task:
            tasks.append(task)
        tables, merged = [], UnitsRead(dataset.schema.empty_table())
        for read in self._pool.map(lambda task: read_units(dataset, task), tasks):
            if read.table.num_rows:
                tables.append(read.table)
            merged.files += read.files
            merged.bytes += read.bytes
            merged.kept.update(read.kept)
            merged.kept_files += read.kept_files
            self.done += read.files + read.kept_files
            self._progress(f"{dataset.name}: read {self.done:,}/{self._total:,} v1 files")
        if tables:
            merged.table = pa.concat_tables(tables).combine_chunks()
        return merged


class CompactionRunning(RuntimeError):
    """Another process is compacting the same root."""


@contextmanager
def _only_run(root: Path):
    """Hold an exclusive lock on the root folder itself (no file left behind) while compacting."""
    descriptor = os.open(root, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CompactionRunning(f"another scrapy compact is converting {root}") from None
        yield
    finally:
        os.close(descriptor)


def compact(root: Path | str, batch_tickers: int = BATCH_TICKERS, workers: int = 4,
            progress: Progress | None = None) -> CompactionReport:
    """Convert every v1 file under ``root`` to the current layout; see the module docstring."""
    with _only_run(Path(root)):
        return _compact(Path(root), batch_tickers, workers, progress)


def _compact(root: Path, batch_tickers: int, workers: int, progress: Progress | None) -> CompactionReport:
    started = time.monotonic()
    say = progress or (lambda message: None)
    report = CompactionReport(root)
    say("listing v1 files")
    inventories = {name: v1_files(root, DATASETS[name]) for name in TICKER_DATASETS}
    journals = sorted((root / JOURNAL_DIR).glob("*.json")) if (root / JOURNAL_DIR).is_dir() else []
    report.found_v1 = any(inventories.values()) or v1_latest_path(root).exists() or bool(journals)
    if report.found_v1:
        report.removed_temporaries = remove_temporaries(root)
        report.leftover_staged_files = publish(root, progress=say).staged_files
        total = (sum(len(files) for name, files in inventories.items()
                     if not journal_path(root, DATASETS[name]).exists())
                 + partition_path(root, UNIVERSE).exists() + v1_latest_path(root).exists())
        with ThreadPoolExecutor(max_workers=workers) as pool:
            reader = Reader(pool, total, say)
            # The universe and the cross-section first: while any ticker=<T>.parquet file is
            # left, the crawl refuses the root (layout.has_v1_layout).
            for name, converted in [(UNIVERSE.name, convert_universe(root, reader, say)),
                                    (LATEST.name, convert_latest(root, reader, say))]:
                if converted is not None:
                    report.datasets[name] = converted
            for name, files in inventories.items():
                converted = convert_ticker_dataset(root, DATASETS[name], files, reader, batch_tickers, say)
                if converted is not None:
                    report.datasets[name] = converted
    report.removed_bookkeeping = remove_bookkeeping(root)
    report.seconds = time.monotonic() - started
    return report


def convert_universe(root: Path, reader: Reader, say: Progress) -> DatasetReport | None:
    """The universe, rewritten whole in the current encoding (its path is the same in both
    layouts, so the file is both the v1 table and the published one: the rows after must be
    the rows read, less duplicates)."""
    path = partition_path(root, UNIVERSE)
    if not path.exists():
        return None
    report = DatasetReport(UNIVERSE.name)
    read = reader.read(UNIVERSE, [Unit(None, [str(path)])])
    if read.kept:
        report.kept, report.kept_files = read.kept, read.kept_files
        return _measure_after(root, UNIVERSE, report)
    report.v1_files, report.v1_bytes, report.v1_rows = read.files, read.bytes, read.table.num_rows
    table = _deduplicated(UNIVERSE, read.table, report)
    StagingArea(root).stage(UNIVERSE, table, WHOLE_TABLE)
    report.staged_rows = table.num_rows
    publish(root, progress=say)
    return _measure_after(root, UNIVERSE, report)


def convert_ticker_dataset(root: Path, dataset: Dataset, files: V1Files, reader: Reader, batch_tickers: int,
                           say: Progress) -> DatasetReport | None:
    journal = journal_path(root, dataset)
    if journal.exists():
        report = DatasetReport.from_json(journal.read_bytes())
        report.resumed = True
    elif not files.by_ticker:
        return None
    else:
        report = _start_report(root, dataset)
        published = published_stamps(root, dataset) if report.v2_files_before else {}
        area = StagingArea(root)
        tickers = list(files.by_ticker)
        for start in range(0, len(tickers), batch_tickers):
            batch = tickers[start:start + batch_tickers]
            read = reader.read(dataset, [Unit(ticker, files.paths(ticker)) for ticker in batch])
            _stage_batch(area, dataset, batch, read, published, report)
        say(f"{dataset.name}: publishing")
        publish(root, progress=say)
        write_bytes_atomically(journal, report.to_json(), durable=True)
    say(f"{dataset.name}: removing v1 files")
    _remove_v1_files(root, dataset, files, report)
    journal.unlink()
    fsync_directory(journal.parent)
    return _measure_after(root, dataset, report)


def convert_latest(root: Path, reader: Reader, say: Progress) -> DatasetReport | None:
    """The v1 cross-section file, converted whole and staged as replacing its tickers (as the
    ratio pass stages the cross-section)."""
    journal, path = journal_path(root, LATEST), v1_latest_path(root)
    if journal.exists():
        report = DatasetReport.from_json(journal.read_bytes())
        report.resumed = True
    elif not path.exists():
        return None
    else:
        report = _start_report(root, LATEST)
        published = published_stamps(root, LATEST) if report.v2_files_before else {}
        read = reader.read(LATEST, [Unit(None, [str(path)])])
        tickers = sorted(pc.unique(read.table.column("ticker")).to_pylist()) if not read.kept else []
        _stage_batch(StagingArea(root), LATEST, tickers, read, published, report)
        if report.kept:
            return _measure_after(root, LATEST, report)
        publish(root, progress=say)
        write_bytes_atomically(journal, report.to_json(), durable=True)
    if path.exists():
        if report.superseded:
            _move_aside(root, path)
        else:
            path.unlink()
        fsync_directory(path.parent)
    journal.unlink()
    fsync_directory(journal.parent)
    return _measure_after(root, LATEST, report)


def _start_report(root: Path, dataset: Dataset) -> DatasetReport:
    before = published_footprint(root, dataset)
    return DatasetReport(dataset.name, v2_files_before=before.files, v2_rows_before=before.rows,
                         v2_bytes_before=before.bytes)


def _stage_batch(area: StagingArea, dataset: Dataset, batch: list[str], read: UnitsRead, published: dict,
                 report: DatasetReport) -> None:
    """Stage the rows ``read`` (of the v1 files of the tickers of ``batch``) as replacing those
    tickers, but for the tickers with a file that cannot be converted (left whole) and those
    whose published rows are newer (superseded)."""
    report.kept.update(read.kept)
    report.kept_files += read.kept_files
    report.v1_files += read.files
    report.v1_bytes += read.bytes
    report.v1_rows += read.table.num_rows
    table, tickers = read.table, [ticker for ticker in batch if ticker not in read.kept]
    if published:
        table, tickers = _newer_than_published(table, tickers, published, report)
    table = _deduplicated(dataset, table, report)
    if not tickers or table.num_rows == 0:
        # Nothing to publish: the tickers left have no published rows (else an empty v1 file
        # is superseded), so staging their emptiness would change nothing.
        return
    area.stage(dataset, table, tickers)
    report.staged_rows += table.num_rows
    report.replaced_v2_rows += sum(published[ticker][0] for ticker in tickers if ticker in published)


def _newer_than_published(table: pa.Table, tickers: list[str], published: dict, report: DatasetReport):
    """The rows and tickers of ``table`` whose v1 download is as new as the ticker's published
    rows or newer; the others are recorded as superseded. A ticker with published rows and an
    empty v1 file is superseded too (an empty file carries no date)."""
    latest, counts = {}, {}
    if table.num_rows:
        grouped = table.group_by("ticker").aggregate([(DOWNLOADED_AT.name, "max"), (DOWNLOADED_AT.name, "count")])
        for ticker, stamp, rows in zip(*(grouped.column(name).to_pylist() for name in (
                "ticker", f"{DOWNLOADED_AT.name}_max", f"{DOWNLOADED_AT.name}_count"))):
            latest[ticker], counts[ticker] = stamp, rows
    superseded = [ticker for ticker in tickers
                  if ticker in published and (ticker not in latest or latest[ticker] < published[ticker][1])]
    if not superseded:
        return table, tickers
    for ticker in superseded:
        report.superseded[ticker] = counts.get(ticker, 0)
    mask = pc.invert(pc.is_in(table.column("ticker"), pa.array(superseded, pa.string())))
    return table.filter(mask), [ticker for ticker in tickers if ticker not in report.superseded]


def _deduplicated(dataset: Dataset, table: pa.Table, report: DatasetReport) -> pa.Table:
    """``table`` without natural-key duplicates, the newest download of each kept."""
    unique, dropped = deduplicate(dataset, table)
    if dropped:
        newest_first = table.take(pc.sort_indices(table, [(DOWNLOADED_AT.name, "descending")]))
        unique, dropped = deduplicate(dataset, newest_first)
        report.duplicates += dropped
    return unique


def _remove_v1_files(root: Path, dataset: Dataset, files: V1Files, report: DatasetReport) -> None:
    """Delete the converted tickers' v1 files, move the superseded ones aside, leave the kept
    ones; then the folders left empty."""
    for ticker in files.by_ticker:
        if ticker in report.kept:
            continue
        for path in files.paths(ticker):
            if ticker in report.superseded:
                _move_aside(root, Path(path))
            else:
                Path(path).unlink(missing_ok=True)
    base = root / dataset.name
    folders = {Path(directory) for directory in files.directories}
    folders |= {parent for folder in folders for parent in folder.parents if base in parent.parents}
    for folder in [*sorted(folders, key=lambda folder: len(folder.parts), reverse=True), base]:
        try:
            folder.rmdir()
        except OSError:
            if folder.is_dir():
                fsync_directory(folder)  # still holds files: make its deletions durable
    if root.is_dir():
        fsync_directory(root)


def _move_aside(root: Path, path: Path) -> None:
    target = root / SUPERSEDED_DIR / path.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(path, target)
    except FileNotFoundError:
        pass


def _measure_after(root: Path, dataset: Dataset, report: DatasetReport) -> DatasetReport:
    after = published_footprint(root, dataset)
    report.v2_files, report.v2_rows, report.v2_bytes = after.files, after.rows, after.bytes
    return report


def remove_bookkeeping(root: Path) -> list[str]:
    """Delete the v1 writer's bookkeeping folders and this module's empty journal folder."""
    removed = []
    for name in V1_BOOKKEEPING:
        if (root / name).exists():
            shutil.rmtree(root / name)
            removed.append(name)
    try:
        (root / JOURNAL_DIR).rmdir()
    except OSError:
        pass
    return removed
