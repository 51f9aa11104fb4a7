"""Qlib's on-disk formats (those of qlib's ``scripts/dump_bin.py`` and ``scripts/dump_pit.py``),
as bytes built from numpy arrays, and the folder writer that puts them in place.

- ``features/<folder>/<field>.day.bin``: little-endian float32 ``[start, v0, v1, ...]``, ``start``
  the index in ``calendars/day.txt`` of ``v0``, then one value per calendar day up to the last;
  NaN on a day without a value.
- ``financial/<folder>/<field>_<q|a>.data``: packed 20-byte records ``<IIdI``: ``date``
  (YYYYMMDD, the day the value became known), ``period`` (``YYYY*100+Q`` quarterly, ``YYYY``
  annual), ``value`` (float64), ``_next`` (the byte offset of the same period's next revision,
  ``0xFFFFFFFF`` for none), sorted by date.
  ``<field>_<q|a>.index``: uint32 first year, then one uint32 per period slot from that year on
  (four a year for quarterly fields) holding the byte offset of the period's first record, or
  ``0xFFFFFFFF``.
"""

import os
import shutil
from pathlib import Path

import numpy as np

PIT_RECORD = np.dtype([("date", "<u4"), ("period", "<u4"), ("value", "<f8"), ("next", "<u4")])
"""One record of a ``.data`` file: 20 bytes, no padding (``struct`` format ``<IIdI``)."""
NO_RECORD = 0xFFFFFFFF


def feature_bin(start_index: int, values: np.ndarray) -> bytes:
    """A ``.day.bin`` file: ``start_index`` then ``values``, as little-endian float32."""
    out = np.empty(len(values) + 1, dtype="<f4")
    out[0] = start_index
    out[1:] = values
    return out.tobytes()


def pit_files(group: np.ndarray, dates: np.ndarray, periods: np.ndarray, values: np.ndarray,
              quarterly: np.ndarray) -> list[tuple[bytes, bytes]]:
    """(``.data``, ``.index``) of each field in one vectorised pass. The arrays hold one record
    each, grouped by ``group`` (a field of a ticker: consecutive equal numbers) and, within a
    group, in the order they are to be written (by date; a period's revisions in the order they
    were made); ``quarterly`` says per record whether its group is a ``_q`` field. Each record's
    ``_next`` points at the same period's next record: a restatement is a new record chained from
    the one it revises, never an overwrite."""
    count = len(group)
    if count == 0:
        return []
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], count]
    owner = np.repeat(np.arange(len(starts)), ends - starts)
    position = np.arange(count) - starts[owner]
    periods = periods.astype(np.int64)

    records = np.empty(count, dtype=PIT_RECORD)
    records["date"], records["period"], records["value"] = dates, periods, values
    records["next"] = NO_RECORD
    by_period = np.lexsort((position, periods, owner))
    same = (owner[by_period[1:]] == owner[by_period[:-1]]) & (periods[by_period[1:]] == periods[by_period[:-1]])
    records["next"][by_period[:-1][same]] = position[by_period[1:][same]] * PIT_RECORD.itemsize
    head = by_period[np.r_[True, ~same]]

    years = np.where(quarterly, periods // 100, periods)
    first_year, last_year = np.minimum.reduceat(years, starts), np.maximum.reduceat(years, starts)
    per_year = np.where(quarterly[starts], 4, 1)
    index_sizes = 1 + (last_year - first_year + 1) * per_year
    index_starts = np.r_[0, np.cumsum(index_sizes)[:-1]]
    index = np.full(int(index_sizes.sum()), NO_RECORD, dtype="<u4")
    index[index_starts] = first_year
    head_owner = owner[head]
    slot = (years[head] - first_year[head_owner]) * per_year[head_owner]
    slot += np.where(quarterly[head], periods[head] % 100 - 1, 0)
    index[index_starts[head_owner] + 1 + slot] = position[head] * PIT_RECORD.itemsize

    data_bytes, index_bytes = records.tobytes(), index.tobytes()
    size, index_ends = PIT_RECORD.itemsize, index_starts + index_sizes
    return [(data_bytes[starts[k] * size:ends[k] * size], index_bytes[index_starts[k] * 4:index_ends[k] * 4])
            for k in range(len(starts))]


def replace_folder(folder: Path, files: dict[str, bytes]) -> int:
    """Make ``folder`` hold exactly ``files`` (name -> bytes): written into a hidden sibling
    folder, then swapped in by renames, so a file is never seen half-written. An empty
    ``files`` removes the folder. Returns the bytes written."""
    temporary = folder.with_name(f".{folder.name}.tmp")
    previous = folder.with_name(f".{folder.name}.old")
    for leftover in (temporary, previous):
        if leftover.exists():
            shutil.rmtree(leftover)
    if not files:
        if folder.exists():
            shutil.rmtree(folder)
        return 0
    temporary.mkdir(parents=True)
    written = 0
    for name, data in files.items():
        descriptor = os.open(temporary / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            written += os.write(descriptor, data)
        finally:
            os.close(descriptor)
    if folder.exists():
        os.rename(folder, previous)
        os.rename(temporary, folder)
        shutil.rmtree(previous)
    else:
        os.rename(temporary, folder)
    return written


def remove_leftovers(parent: Path) -> None:
    """Delete the hidden ``.tmp``/``.old`` folders a killed export left in ``parent``."""
    if not parent.is_dir():
        return
    for entry in os.scandir(parent):
        if entry.name.startswith(".") and entry.name.endswith((".tmp", ".old")) and entry.is_dir():
            shutil.rmtree(entry.path)
