"""The download ledger (DESIGN §4): which (dataset, ticker) units are written, which failed and
why. It is the source of truth for resuming: a re-run skips what it says is done.

The file keeps the older batch script's top-level keys (``completed``, ``failed``,
``started_at``, ``last_updated``, ``total_tickers``, ``workers``) and adds ``datasets`` with
per-unit detail and ``watermarks``: per dataset, the market day (the server's, not the local
clock's) a crawl that completed every unit of it was current to, from which ``-a update=1``
brings it up to date. It is always replaced atomically.

Per dataset, ``done`` maps a ticker to ``[rows, at]`` (a ``DoneUnit``: the rows staged and when,
as ISO text) and ``failed`` maps a ticker to ``{error, timestamp}``. A full universe has about
90,000 done units, held for the whole crawl, so each is a pair (a tuple in memory, half the
size of a dict); ``load`` still reads the ``{rows, at}`` objects of older ledgers.
"""

import json
import sys
from datetime import date, datetime, timezone
from functools import reduce
from pathlib import Path
from typing import NamedTuple

import orjson

from screener_crawler.storage.atomic import replace_atomically


def utc_now():
    """Now, to the second, as ISO text; one string object per second (interned), however many
    units are marked in it: a full universe's ledger holds about 90,000 of them."""
    return sys.intern(datetime.now(timezone.utc).isoformat(timespec="seconds"))


class DoneUnit(NamedTuple):
    """A unit done: the rows staged, and when (ISO text; None in a hand-written ledger)."""

    rows: int
    at: str | None = None

    @classmethod
    def read(cls, entry: list | dict | None) -> "DoneUnit":
        """From the file's ``[rows, at]``, the ``{rows, at}`` of ledgers written before, or a
        hand-written ``null`` (no rows); TypeError for anything else."""
        if entry is None:
            return cls(0)
        if isinstance(entry, dict):
            entry = [entry.get("rows", 0), entry.get("at")]
        if not isinstance(entry, list) or not 1 <= len(entry) <= 2:
            raise TypeError(f"a done unit is [rows, at], not {entry!r}")
        unit = cls(*entry)
        if isinstance(unit.rows, bool) or not isinstance(unit.rows, int) or not isinstance(unit.at, str | None):
            raise TypeError(f"a done unit is [rows, at], not {entry!r}")
        return unit


class Ledger:
    def __init__(self, path, state=None):
        self.path = Path(path)
        self._state = state or {}
        self._state.setdefault("started_at", utc_now())
        self._state.setdefault("datasets", {})
        for entry in self._state["datasets"].values():
            entry["done"] = {ticker: DoneUnit.read(unit) for ticker, unit in (entry.get("done") or {}).items()}
            entry["failed"] = entry.get("failed") or {}
        self._state.setdefault("completed", [])
        self._state.setdefault("failed", {})
        self._state.setdefault("watermarks", {})

    @classmethod
    def load(cls, path):
        """The ledger at ``path``; an empty one when the file does not exist yet."""
        path = Path(path)
        if not path.exists():
            return cls(path)
        with path.open() as handle:
            state = json.load(handle)
        if not isinstance(state, dict):
            raise ValueError(f"{path} is not a download ledger")
        try:
            return cls(path, state)
        except (AttributeError, TypeError) as error:
            raise ValueError(f"{path} is not a download ledger: {error}") from None

    def _dataset(self, dataset):
        return self._state["datasets"].setdefault(dataset, {"done": {}, "failed": {}})

    def is_done(self, dataset, ticker):
        return ticker in self._dataset(dataset)["done"]

    def done_at(self, dataset: str, ticker: str) -> datetime | None:
        """When the unit was last done (this machine's clock), or None when it is not done."""
        unit = self._dataset(dataset)["done"].get(ticker)
        return datetime.fromisoformat(unit.at) if unit and unit.at else None

    def done_tickers(self, dataset):
        return set(self._dataset(dataset)["done"])

    def failures(self, dataset):
        return dict(self._dataset(dataset)["failed"])

    def mark_done(self, dataset, ticker, rows):
        entry = self._dataset(dataset)
        entry["failed"].pop(ticker, None)
        entry["done"][ticker] = DoneUnit(rows, utc_now())

    def mark_failed(self, dataset, ticker, reason):
        entry = self._dataset(dataset)
        entry["done"].pop(ticker, None)
        entry["failed"][ticker] = {"error": reason, "timestamp": utc_now()}

    def watermark(self, dataset: str) -> date | None:
        """The market day ``dataset`` was last complete to, or None when no crawl completed it."""
        day = self._state["watermarks"].get(dataset)
        return date.fromisoformat(day) if day else None

    def set_watermark(self, dataset: str, day: date) -> None:
        self._state["watermarks"][dataset] = day.isoformat()

    def forget_ticker(self, ticker: str) -> None:
        """Forget every unit of ``ticker`` (a ticker the universe now lists under another symbol)."""
        for dataset in self._state["datasets"]:
            self.forget(dataset, ticker)

    def forget(self, dataset, ticker):
        """Make a unit pending again (``force``/``refill``)."""
        entry = self._dataset(dataset)
        entry["done"].pop(ticker, None)
        entry["failed"].pop(ticker, None)

    def summarise(self, tickers, datasets, workers):
        """Fill the batch script's top-level keys for this crawl's tickers and datasets."""
        tickers = list(tickers)
        done_everywhere = reduce(set.intersection, (set(self._dataset(d)["done"]) for d in datasets), set(tickers))
        completed = [t for t in tickers if t in done_everywhere]
        failed = {}
        for dataset in datasets:
            for ticker, failure in self._dataset(dataset)["failed"].items():
                failed.setdefault(ticker, {"error": f"{dataset}: {failure['error']}",
                                           "timestamp": failure["timestamp"]})
        self._state.update(completed=completed, failed=failed, total_tickers=len(tickers),
                           workers=workers)

    def save(self):
        self.write(self.encoded())

    def encoded(self):
        """The ledger as JSON bytes, stamped now. Encoded on the reactor thread every few
        seconds, so with orjson, ten times faster than the json module on a full universe's
        ledger. Plain JSON either way: ``load`` reads it with ``json``. A ``DoneUnit`` is a
        tuple orjson does not take as one (it is a subclass): ``default`` makes it one."""
        self._state["last_updated"] = utc_now()
        return orjson.dumps(self._state, default=tuple, option=orjson.OPT_SORT_KEYS)

    def write(self, encoded):
        """Replace the file with ``encoded`` (blocking: the disk may keep it waiting)."""
        replace_atomically(self.path, lambda temporary: Path(temporary).write_bytes(encoded))

    def as_dict(self):
        return self._state
