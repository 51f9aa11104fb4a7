"""The checks of ``scrapy status``, assembled into one JSON-able report.

A dataset is checked when it has a folder under the data root, units in the ledger or staged
files. It is broken when a file's schema is not the declared one, a file cannot be read, a
file lies outside the layout (readers would read it anyway), a staged file cannot be read (the
next publish would fail), or the ledger calls a unit with rows done while none of its ticker's
rows are published or staged. Units staged but not yet published are reported, not a fault:
the next crawl publishes them first.
"""

import os
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from screener_crawler.datasets import DATASETS, STORED_DATASETS, TICKER_DATASETS
from screener_crawler.storage.layout import RUNNING_MARKER
from screener_crawler.status.last_crawl import last_crawl
from screener_crawler.status.ledger_view import LedgerView
from screener_crawler.status.partitions import IGNORED_PREFIXES, PartitionTally, tally_partitions
from screener_crawler.status.ratio_coverage import ratio_coverage
from screener_crawler.status.staged import StagedUnits, staged_units
from screener_crawler.storage.layout import V1_LAYOUT_MESSAGE, has_v1_layout, partition_path


def build_report(root: Path, ledger: LedgerView, selected: set[str] | None = None,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Check the datasets under ``root`` (those in ``selected`` only, when given)."""
    started = time.monotonic()
    if has_v1_layout(root):
        message = V1_LAYOUT_MESSAGE.format(root=root)
        return {"data_root": str(root), "progress_file": str(ledger.path), "v1_layout": True,
                "datasets": {}, "problems": [message], "ok": False}
    folders = {entry.name for entry in os.scandir(root)
               if entry.is_dir() and not entry.name.startswith(IGNORED_PREFIXES)}
    staged = staged_units(root)
    names = [name for name in STORED_DATASETS if (selected is None or name in selected)
             and (name in folders or name in ledger.datasets() or name in staged)]
    base_tickers, base_source = universe_tickers(root), "universe"
    if base_tickers is None:
        base_tickers, base_source = ledger.tickers(), "ledger"

    reports, footers_read = {}, 0
    for name in names:
        tally = tally_partitions(root, STORED_DATASETS[name], progress)
        footers_read += tally.files
        reports[name] = check_dataset(tally, staged.get(name, StagedUnits()), ledger, base_tickers)
    if "financial_ratios" in reports:
        reports["financial_ratios"]["ratio_coverage"] = ratio_coverage(reports["financial_ratios"]["coverage"])

    problems = [f"ledger unreadable: {ledger.error}"] if ledger.error else []
    problems += [f"{staged[name].files} staged file(s) of the undeclared dataset {name}: publishing fails on them"
                 for name in sorted(set(staged) - set(STORED_DATASETS))]
    problems += [f"{name}: {problem}" for name, report in reports.items() for problem in report["problems"]]
    return {
        "data_root": str(root),
        "progress_file": str(ledger.path),
        "v1_layout": False,
        "ledger": ledger.summary(),
        "last_crawl": last_crawl(ledger.path),
        "completion_base": {"source": base_source, "tickers": len(base_tickers)},
        "crawl_running": (Path(root) / RUNNING_MARKER).exists(),
        "datasets": reports,
        "other_folders": sorted(folders - set(STORED_DATASETS)),
        "ledger_only_datasets": sorted(ledger.datasets() - set(STORED_DATASETS)),
        "files_checked": {"footers_read": footers_read},
        "problems": problems,
        "ok": not problems,
        "elapsed_seconds": round(time.monotonic() - started, 2),
    }


def universe_tickers(root: Path) -> set[str] | None:
    """Tickers of the published universe; None when there is none (or it cannot be read)."""
    path = partition_path(root, DATASETS["universe"])
    try:
        return set(pq.read_table(path, columns=["ticker"]).column("ticker").to_pylist())
    except Exception:
        return None


def check_dataset(tally: PartitionTally, staged: StagedUnits, ledger: LedgerView, base_tickers: set[str]) -> dict:
    """The report of one dataset: figures, problems, and whether it is broken."""
    name = tally.dataset.name
    done, failed = ledger.done(name), ledger.failed(name)
    missing = []
    if not tally.unreadable and not staged.unreadable and not staged.whole_table:
        missing = sorted(ticker for ticker, unit in done.items()
                         if unit.rows > 0
                         and ticker not in tally.tickers and ticker not in staged.tickers
                         and ticker not in staged.upserted_tickers)
    problems = []
    if tally.schema_mismatches:
        problems.append(f"{len(tally.schema_mismatches)} file(s) whose schema is not the declared one")
    if tally.unreadable:
        problems.append(f"{len(tally.unreadable)} unreadable file(s)")
    if tally.stray_files:
        problems.append(f"{len(tally.stray_files)} file(s) outside the layout")
    if staged.unreadable:
        problems.append(f"{len(staged.unreadable)} unreadable staged file(s)")
    if missing:
        problems.append(f"{len(missing)} unit(s) done in the ledger without rows on disk")
    return {
        "files": tally.files,
        "bytes": tally.bytes,
        "rows": tally.rows,
        "through": tally.through.isoformat() if tally.through else None,
        "updates_from": ledger.watermark(name),
        "tickers": len(tally.tickers),
        "staged": {"files": staged.files, "tickers": len(staged.tickers | staged.upserted_tickers),
                   "whole_table": staged.whole_table, "replaced_tickers": sorted(staged.tickers),
                   "upsert_files": staged.upsert_files, "upserted_tickers": sorted(staged.upserted_tickers),
                   "unreadable_files": [{"file": file, "error": error}
                                        for file, error in sorted(staged.unreadable.items())]},
        "completion": completion(done, failed, base_tickers) if name in TICKER_DATASETS else None,
        "failures_by_reason": ledger.failures_by_reason(name),
        "failed_tickers": failed,
        "schema_mismatches": [{"file": mismatch.file, "problem": mismatch.problem, "columns": list(mismatch.columns)}
                              for mismatch in tally.schema_mismatches],
        "older_files": [{"file": file, "columns_added_since": list(columns)}
                        for file, columns in sorted(tally.older_files.items())],
        "unreadable_files": [{"file": file, "error": error} for file, error in sorted(tally.unreadable.items())],
        "stray_files": tally.stray_files,
        "done_but_missing": missing,
        "coverage": tally.coverage(),
        "problems": problems,
        "broken": bool(problems),
    }


def completion(done: dict, failed: dict, base_tickers: set[str]) -> dict:
    """Units done, failed and pending among ``base_tickers``, as counts and percentages."""
    total = len(base_tickers)
    counts = {"done": len(base_tickers & set(done)), "failed": len(base_tickers & set(failed))}
    counts["pending"] = total - counts["done"] - counts["failed"]
    return {"tickers": total, **counts,
            **{f"{key}_pct": (round(100.0 * value / total, 2) if total else None) for key, value in counts.items()}}
