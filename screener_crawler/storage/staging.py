"""The durable staging area, ``<root>/_staging/``: completed units wait here, many to a file,
until they are published into their partitions (``publishing.py``).

A staged file holds rows of one dataset, as Arrow IPC with one record batch per partition its
rows touch, and says what its rows replace. Four kinds:

- tickers replaced in every partition (a unit downloaded per ticker or listed per ticker batch);
- tickers replaced in one partition only (``scope``: a month of grouped daily prices, which
  lists every ticker of the market for its days);
- the whole table (the universe);
- rows that upsert by the dataset's natural key (``stage_upsert``: an update's new prices,
  filings or corporate actions): each row replaces the published row of its key, if there is
  one, and every other row stays. A key lives in one partition, as every partitioned
  dataset's natural key holds its partition date. The header's tickers are those the rows
  touch, for reporting; they replace nothing.

Files are numbered in the order they were staged; a later file wins over an earlier one,
whatever their kinds: for the tickers both replace, or for the rows an upsert's keys name. A file
is written durably (``fsync``) before the ledger hears of its units, and is deleted only once
every staged file up to it is published.
"""

import json
import re
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from screener_crawler.datasets import Dataset
from screener_crawler.storage.atomic import replace_atomically
from screener_crawler.storage.layout import STAGING_DIR
from screener_crawler.storage.tables import deduplicate, split_by_month

STAGED_NAME = re.compile(r"^(\d{12})\.([a-z_]+)\.arrow$")
WHOLE_TABLE = None


@dataclass(frozen=True)
class StagedFile:
    sequence: int
    dataset: str
    path: Path


@dataclass(frozen=True)
class StagedHeader:
    """What a staged file replaces: ``tickers`` (None: the whole table) in every partition, or
    only in ``scope`` (a partition key), or, with ``upsert``, the rows of its natural keys (then
    ``tickers`` are those its rows touch); and the partitions its rows touch (``months``, one
    record batch each, in that order). The tickers are a tuple of interned strings: a publish
    holds the header of every staged file at once, and a grouped-daily month replaces every
    ticker of the universe."""

    tickers: tuple | None
    scope: int | None
    months: tuple
    upsert: bool = False


WRITE_BUFFER_BYTES = 1 << 20
"""What a staged file's writer gathers before each write to the file: a record batch is two or
three buffers a column, which Arrow's file sink would write with a system call each."""


def write_staged_file(path: Path, schema: pa.Schema, pieces: list) -> None:
    """An Arrow IPC file of ``schema``, a record batch per (month, rows) of ``pieces`` (rows
    of ``schema``'s types)."""
    with pa.OSFile(str(path), "wb") as file, pa.BufferedOutputStream(file, WRITE_BUFFER_BYTES) as sink, \
            ipc.new_file(sink, schema) as writer:
        for _, piece in pieces:
            writer.write_table(piece.combine_chunks())


class StagingArea:
    def __init__(self, root: Path | str):
        self.directory = Path(root) / STAGING_DIR
        self._lock = threading.Lock()
        self._next = None

    def files(self, up_to: int | None = None) -> list[StagedFile]:
        """The staged files, oldest first (only those numbered up to ``up_to`` when given)."""
        found = []
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                match = STAGED_NAME.match(path.name)
                if match and (up_to is None or int(match[1]) <= up_to):
                    found.append(StagedFile(int(match[1]), match[2], path))
        return sorted(found, key=lambda staged: staged.sequence)

    def _take_sequence(self) -> int:
        with self._lock:
            if self._next is None:
                existing = self.files()
                self._next = existing[-1].sequence + 1 if existing else 1
            sequence, self._next = self._next, self._next + 1
            return sequence

    def stage(self, dataset: Dataset, table: pa.Table, tickers: Iterable[str] | None,
              scope: int | None = None) -> StagedFile:
        """Durably stage ``table`` (rows of the dataset's full schema) as replacing ``tickers``
        (an iterable; ``WHOLE_TABLE`` for the universe) in every partition, or in ``scope`` only.
        Every row must be of one of ``tickers``."""
        if tickers is not WHOLE_TABLE:
            tickers = sorted(set(tickers))
            strays = pc.invert(pc.is_in(table.column("ticker"), pa.array(tickers, pa.string())))
            if pc.any(strays).as_py():
                raise ValueError(f"staged rows of {dataset.name} include tickers it does not replace")
        return self._write(dataset, table.cast(dataset.schema), tickers, scope)

    def stage_upsert(self, dataset: Dataset, table: pa.Table) -> StagedFile:
        """Durably stage ``table`` (rows of the dataset's full schema, of any tickers) as rows that
        upsert by the dataset's natural key: once published, each replaces the row of its key
        (null key columns match nulls) and adds itself if there was none; every other row stays.
        Rows repeating a key are first reduced to one by the dataset's rule (``deduplicate``:
        the latest by ``newest_by``, else the first); a caller that counts duplicates drops them
        before."""
        if dataset.partition_date is not None and dataset.partition_date not in dataset.natural_key:
            raise ValueError(f"{dataset.name}'s natural key lacks its partition date: a key could move partitions")
        unique, _ = deduplicate(dataset, table.cast(dataset.schema))
        tickers = sorted(pc.unique(unique.column("ticker")).to_pylist())
        return self._write(dataset, unique, tickers, None, upsert=True)

    def _write(self, dataset: Dataset, table: pa.Table, tickers: list | None, scope: int | None,
               upsert: bool = False) -> StagedFile:
        pieces = [(month, rows) for month, rows in split_by_month(dataset, table) if rows.num_rows]
        metadata = {
            "screener.dataset": dataset.name,
            "screener.tickers": json.dumps(tickers),
            "screener.scope": json.dumps(scope),
            "screener.months": json.dumps([month for month, _ in pieces]),
            "screener.upsert": json.dumps(upsert),
        }
        schema = dataset.schema.with_metadata(metadata)
        sequence = self._take_sequence()
        path = self.directory / f"{sequence:012d}.{dataset.name}.arrow"

        replace_atomically(path, lambda temporary: write_staged_file(temporary, schema, pieces), durable=True)
        return StagedFile(sequence, dataset.name, path)

    @staticmethod
    def header(staged: StagedFile) -> StagedHeader:
        with ipc.open_file(staged.path) as reader:
            return StagingArea.header_of(reader.schema)

    @staticmethod
    def header_of(schema: pa.Schema) -> StagedHeader:
        metadata = schema.metadata
        tickers = json.loads(metadata[b"screener.tickers"])
        return StagedHeader(None if tickers is None else tuple(map(sys.intern, tickers)),
                            json.loads(metadata[b"screener.scope"]), tuple(json.loads(metadata[b"screener.months"])),
                            json.loads(metadata.get(b"screener.upsert", b"false")))  # absent: staged before upserts

    def remove(self, staged: list[StagedFile]) -> None:
        """Delete published files, oldest first: a crash part-way leaves the newest, which
        win anyway when published again."""
        for one in sorted(staged, key=lambda s: s.sequence):
            one.path.unlink(missing_ok=True)

    def pending(self) -> dict[str, int]:
        """Dataset -> staged files not yet published."""
        counts = {}
        for staged in self.files():
            counts[staged.dataset] = counts.get(staged.dataset, 0) + 1
        return counts
