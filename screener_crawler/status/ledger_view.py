"""The download ledger (``ledger.py``) as ``scrapy status`` reads it: never written, and an
unreadable file is reported rather than raised."""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from screener_crawler.ledger import DoneUnit, Ledger


@dataclass
class LedgerView:
    path: Path
    found: bool
    state: dict = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def read(cls, path: Path | str) -> "LedgerView":
        path = Path(path)
        if not path.exists():
            return cls(path, False)
        try:
            return cls(path, True, Ledger.load(path).as_dict())
        except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
            return cls(path, True, {}, f"{type(error).__name__}: {error}")

    def watermark(self, dataset: str) -> str | None:
        """The market day (YYYY-MM-DD) the last crawl that completed ``dataset`` was current to:
        where ``-a update=1`` starts from."""
        return (self.state.get("watermarks") or {}).get(dataset)

    def done(self, dataset: str) -> dict[str, DoneUnit]:
        """Ticker -> rows and time of the units done."""
        return self._entry(dataset).get("done") or {}

    def failed(self, dataset: str) -> dict[str, str]:
        """Ticker -> reason, of the units failed (and not done since)."""
        done = self.done(dataset)
        return {ticker: (failure or {}).get("error") or "unknown"
                for ticker, failure in sorted((self._entry(dataset).get("failed") or {}).items())
                if ticker not in done}

    def failures_by_reason(self, dataset: str) -> dict[str, int]:
        """Reason -> failed units, most frequent first."""
        return dict(Counter(self.failed(dataset).values()).most_common())

    def datasets(self) -> set[str]:
        """Datasets with at least one unit done or failed."""
        return {name for name in self.state.get("datasets") or {} if self.done(name) or self.failed(name)}

    def tickers(self) -> set[str]:
        """Every ticker the ledger mentions, in any dataset or in the top-level keys."""
        tickers = set(self.state.get("completed") or ()) | set(self.state.get("failed") or {})
        for name in self.datasets():
            tickers |= set(self.done(name)) | set(self.failed(name))
        return tickers

    def summary(self) -> dict:
        return {
            "found": self.found,
            "error": self.error,
            "total_tickers": self.state.get("total_tickers"),
            "completed": len(self.state.get("completed") or ()),
            "failed": len(self.state.get("failed") or {}),
            "started_at": self.state.get("started_at") if self.found else None,
            "last_updated": self.state.get("last_updated"),
        }

    def _entry(self, dataset: str) -> dict:
        return (self.state.get("datasets") or {}).get(dataset) or {}
