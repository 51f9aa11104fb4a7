"""The last crawl's stats, as it wrote them beside the ledger (``statscollectors.py``): when
and how it ended, and the field coverage of the rows it downloaded (scrapy-fieldstats' shares,
per dataset). Read, never written; a missing file is no fault, an unreadable one is reported."""

import json
from pathlib import Path

from screener_crawler.connection import crawl_stats_file

FIELD_COVERAGE_PREFIX = "fields_coverage/"


def last_crawl(ledger_path: Path | str) -> dict | None:
    """What ``scrapy status`` says of the last crawl; None when it left no stats file."""
    path = crawl_stats_file(ledger_path)
    if not path.exists():
        return None
    try:
        written = json.loads(path.read_text())
        stats = written["stats"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return {"stats_file": str(path), "error": f"{type(error).__name__}: {error}"}
    return {
        "stats_file": str(path),
        "error": None,
        "spider": written.get("spider"),
        "finish_reason": stats.get("finish_reason"),
        "finish_time": stats.get("finish_time"),
        "elapsed_seconds": stats.get("elapsed_time_seconds"),
        "requests": stats.get("downloader/request_count", 0),
        "tickers_not_in_universe": stats.get("daily_prices/tickers_not_in_universe", 0),
        "tickers_not_in_universe_sample": stats.get("daily_prices/tickers_not_in_universe_sample", []),
        "field_coverage": {name.removeprefix(FIELD_COVERAGE_PREFIX): _shares(coverage)
                           for name, coverage in sorted(stats.items()) if name.startswith(FIELD_COVERAGE_PREFIX)},
    }


def _shares(coverage: dict) -> dict[str, float] | None:
    """Column -> % from scrapy-fieldstats' "97.5%" strings; None when they are counts
    (``FIELDSTATS_COUNTS_ONLY``), which say nothing of a share without the rows."""
    if not all(isinstance(value, str) and value.endswith("%") for value in coverage.values()):
        return None
    return {column: float(value.rstrip("%")) for column, value in coverage.items()}
