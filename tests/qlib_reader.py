"""A reader of a Qlib provider directory written from the format's documentation (qlib 0.9.7's
``dump_bin.py``, ``dump_pit.py``, ``file_storage.py``, ``LocalPITProvider`` and
``read_period_data``, as summarised in issue 35), not from the exporter's code: the tests read
what ``scrapy export-qlib`` wrote through it.

- ``calendars/day.txt``: a YYYY-MM-DD a line.
- ``instruments/all.txt``: code TAB first day TAB last day.
- the folder of code ``c``: ``c.lower()``, with ``_qlib_`` before it when ``c`` (upper-cased)
  is CON, PRN, AUX, NUL, COM0-9 or LPT0-9.
- ``features/<folder>/<field>.day.bin``: little-endian float32, the first the calendar index
  of the second.
- ``financial/<folder>/<field>.data``: records of 20 bytes, ``<IIdI`` (date, period, value,
  offset of the period's next revision or 0xFFFFFFFF); ``.index``: uint32 first year, then one
  uint32 a period slot (four a year for ``_q``).
- ``P($$field)`` on day d: among records dated on or before d, the latest period; its value is
  the last revision, following the chain from the index, dated on or before d.
"""

import struct
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

RECORD = struct.Struct("<IIdI")
NONE = 0xFFFFFFFF
DEVICES = {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(10)} | {f"LPT{i}" for i in range(10)}


def calendar(out) -> list[date]:
    return [date.fromisoformat(line) for line in Path(out, "calendars", "day.txt").read_text().split()]


def instruments(out) -> dict[str, tuple[date, date]]:
    spans = {}
    for line in Path(out, "instruments", "all.txt").read_text().splitlines():
        code, first, last = line.split("\t")
        spans[code] = (date.fromisoformat(first), date.fromisoformat(last))
    return spans


def folder(code: str) -> str:
    return ("_qlib_" + code if code.upper() in DEVICES else code).lower()


def feature(out, code: str, field: str) -> pd.Series:
    """The bin's values indexed by calendar day."""
    raw = np.fromfile(Path(out, "features", folder(code), f"{field}.day.bin"), dtype="<f4")
    start = int(raw[0])
    days = calendar(out)[start:start + len(raw) - 1]
    assert len(days) == len(raw) - 1, "a bin runs past the calendar"
    return pd.Series(raw[1:], index=pd.to_datetime(days))


def records(out, code: str, field: str) -> list[tuple[int, int, float, int]]:
    data = Path(out, "financial", folder(code), f"{field}.data").read_bytes()
    assert len(data) % RECORD.size == 0
    return [RECORD.unpack_from(data, offset) for offset in range(0, len(data), RECORD.size)]


def index(out, code: str, field: str) -> tuple[int, list[int]]:
    raw = Path(out, "financial", folder(code), f"{field}.index").read_bytes()
    values = struct.unpack(f"<{len(raw) // 4}I", raw)
    return values[0], list(values[1:])


def revisions(out, code: str, field: str, period: int) -> list[tuple[int, float]]:
    """(date, value) of every record of ``period``, following the chain from the index."""
    first_year, slots = index(out, code, field)
    if field.endswith("_q"):
        slot = (period // 100 - first_year) * 4 + period % 100 - 1
    else:
        slot = period - first_year
    data = Path(out, "financial", folder(code), f"{field}.data").read_bytes()
    chain, offset = [], slots[slot] if 0 <= slot < len(slots) else NONE
    while offset != NONE:
        record_date, record_period, value, offset = RECORD.unpack_from(data, offset)
        assert record_period == period
        chain.append((record_date, value))
    return chain


def pit_value(out, code: str, field: str, day: date) -> float:
    """``P($$field)`` on ``day``."""
    today = day.year * 10000 + day.month * 100 + day.day
    known = [period for record_date, period, _, _ in records(out, code, field) if record_date <= today]
    if not known:
        return float("nan")
    values = [value for record_date, value in revisions(out, code, field, max(known)) if record_date <= today]
    return values[-1] if values else float("nan")
