"""``scrapy compact``: convert a data root from the v1 layout (one file per dataset, month and
ticker, ``ticker=<T>.parquet``) to the current one (one file per partition holding every
ticker), keeping every row and its ``downloaded_at``. The work is in
``screener_crawler/storage/compaction.py``; killed at any point, running it again finishes it
with the same result.

Where a ticker also has rows in the current layout (a root partly converted), the newer
download of each (dataset, ticker) wins by ``downloaded_at``: older v1 files are not converted
but moved to ``_v1_superseded/``; other tickers' rows are never touched.

It prints, per dataset, the files, rows and bytes before (v1) and after (the published
partitions). Exit status: 0 when every dataset's rows after are its rows before (less
natural-key duplicates, which it names) or when there is nothing in the v1 layout; 1 when a
count differs or some v1 files could not be converted (they are left in place and named);
2 for bad usage.
"""

import os
import sys
import threading
import time

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from ..connection import data_root, project_path
from ..datasets import STORED_DATASETS
from ..storage.compaction import BATCH_TICKERS, JOURNAL_DIR, SUPERSEDED_DIR, CompactionRunning, compact

PROGRESS_EVERY_SECONDS = 3.0


class Progress:
    """The latest progress message on stderr, at most every few seconds, and again every few
    seconds while one step (a publish) says nothing new, so a long run never looks stuck."""

    def __init__(self, stream=sys.stderr, every=PROGRESS_EVERY_SECONDS):
        self._stream = stream
        self._every = every
        self._started = time.monotonic()
        self._message = None
        self._last = self._started
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="compact-progress", daemon=True)

    def __enter__(self):
        self._ticker.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._ticker.join()

    def __call__(self, message):
        with self._lock:
            self._message = message
        if time.monotonic() - self._last >= self._every:
            self._show()

    def _tick(self):
        while not self._stop.wait(self._every / 3):
            if time.monotonic() - self._last >= self._every:
                self._show()

    def _show(self):
        with self._lock:
            self._last = time.monotonic()
            if self._message is not None:
                self._stream.write(f"compact: {self._message}, {self._last - self._started:.0f}s\n")
                self._stream.flush()


def megabytes(size):
    return f"{size / 1e6:,.1f}"


def format_report(report):
    """The per-dataset table and what the user must know: duplicates dropped, tickers
    superseded by newer published rows, files left in place, counts that differ."""
    root = report.root
    if not report.found_v1:
        lines = [f"No data in the v1 layout (ticker=<T>.parquet files) under {root}: nothing to convert."]
        if report.removed_bookkeeping:
            lines.append(f"Removed the v1 bookkeeping left there: {', '.join(report.removed_bookkeeping)}.")
        return "\n".join(lines)
    header = (f"{'dataset':<24}{'v1 files':>10}{'v1 rows':>12}{'v1 MB':>10}"
              f"{'v2 files':>10}{'v2 rows':>12}{'v2 MB':>10}  check")
    lines = [f"Converted {root} from the v1 layout:", "", header, "-" * len(header)]
    totals = [0] * 6
    notes, problems = [], []
    for name, dataset in report.datasets.items():
        figures = (dataset.v1_files, dataset.v1_rows, dataset.v1_bytes, dataset.v2_files, dataset.v2_rows,
                   dataset.v2_bytes)
        totals = [total + figure for total, figure in zip(totals, figures)]
        check = "ok" if dataset.rows_match else f"DIFFERS: expected {dataset.expected_rows:,} rows"
        if dataset.kept:
            check += f", {dataset.kept_files:,} v1 file(s) NOT converted"
        lines.append(_row(name, figures) + f"  {check}")
        if dataset.resumed:
            notes.append(f"{name}: published by an earlier run that was stopped; this run removed its v1 files "
                         "(figures from that run)")
        if dataset.v2_files_before:
            kept_rows = dataset.v2_rows_before - dataset.replaced_v2_rows
            notes.append(f"{name}: {dataset.v2_rows_before:,} row(s) were already published in "
                         f"{dataset.v2_files_before:,} file(s); {kept_rows:,} of them, of tickers the v1 "
                         "files did not replace, were kept")
        if dataset.duplicates:
            problems.append(f"{name}: {dataset.duplicates:,} v1 row(s) repeated another row's natural key "
                            f"({', '.join(STORED_DATASETS[name].natural_key)}) and were dropped, the newest download kept; "
                            "the crawler never writes such rows")
        if dataset.superseded:
            problems.append(f"{name}: {dataset.superseded_rows:,} v1 row(s) of {len(dataset.superseded):,} "
                            f"ticker(s) ({_some(dataset.superseded)}) were not converted: the published rows of "
                            f"those tickers are a newer download; their v1 files are in {root / SUPERSEDED_DIR}")
        if dataset.kept:
            problems.append(f"{name}: the v1 files of {len(dataset.kept):,} ticker(s) could not be converted "
                            f"and are left in place: " + "; ".join(
                                f"{ticker}: {reason}" for ticker, reason in list(dataset.kept.items())[:5]))
        if not dataset.rows_match:
            problems.append(f"{name}: ROWS DIFFER: {dataset.v2_rows:,} row(s) published, expected "
                            f"{dataset.expected_rows:,} (v1 {dataset.v1_rows:,} less {dataset.duplicates:,} "
                            f"duplicate(s) and {dataset.superseded_rows:,} superseded)")
    lines += ["-" * len(header), _row("total", totals)]
    if report.leftover_staged_files or report.removed_temporaries:
        notes.append(f"finished the work of a run that was stopped: {report.leftover_staged_files:,} staged "
                     f"file(s) published, {report.removed_temporaries:,} temporary file(s) removed")
    if report.removed_bookkeeping:
        notes.append(f"removed the v1 bookkeeping: {', '.join(report.removed_bookkeeping)}")
    if notes:
        lines += ["", *(f"Note: {note}" for note in notes)]
    if problems:
        lines += ["", "!" * 72, *(f"!!! {problem}" for problem in problems), "!" * 72]
    if report.ok:
        lines.append(f"\nOK: every v1 row is published ({report.seconds:.1f}s).")
    else:
        lines.append(f"\nFAILED ({report.seconds:.1f}s): see above; run `scrapy compact` again once fixed "
                     f"(v1 files not converted are still in place, and {JOURNAL_DIR}/ is kept while a dataset "
                     "is half done).")
    return "\n".join(lines)


def _row(name, figures):
    v1_files, v1_rows, v1_bytes, v2_files, v2_rows, v2_bytes = figures
    return (f"{name:<24}{v1_files:>10,}{v1_rows:>12,}{megabytes(v1_bytes):>10}"
            f"{v2_files:>10,}{v2_rows:>12,}{megabytes(v2_bytes):>10}")


def _some(tickers, limit=5):
    names = list(tickers)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self):
        return "[--data-dir DIR] [--batch-tickers N] [--workers N]"

    def short_desc(self):
        return "Convert data in the v1 layout (ticker=<T>.parquet files) to one file per partition"

    def long_desc(self):
        return __doc__

    def add_options(self, parser):
        super().add_options(parser)
        parser.add_argument("--data-dir", metavar="DIR",
                            help="data root to convert (default: the crawl's, SCREENER_DATA_DIR)")
        parser.add_argument("--batch-tickers", type=int, default=BATCH_TICKERS, metavar="N",
                            help=f"tickers whose v1 files are read and staged at a time (default {BATCH_TICKERS})")
        parser.add_argument("--workers", type=int, default=min(8, 2 * (os.cpu_count() or 1)), metavar="N",
                            help="threads reading v1 files (default: 2 per CPU, at most 8)")

    def run(self, args, opts):
        if args:
            raise UsageError(f"unexpected argument(s): {' '.join(args)}")
        if opts.batch_tickers < 1 or opts.workers < 1:
            raise UsageError("--batch-tickers and --workers must be at least 1", print_help=False)
        root = project_path(opts.data_dir) if opts.data_dir else data_root(self.settings)
        if not root.is_dir():
            raise UsageError(f"data directory {root} does not exist", print_help=False)
        try:
            with Progress() as progress:
                report = compact(root, batch_tickers=opts.batch_tickers, workers=opts.workers, progress=progress)
        except CompactionRunning as error:
            print(f"compact: {error}; not started", file=sys.stderr)
            self.exitcode = 1
            return
        print(format_report(report))
        self.exitcode = 0 if report.ok else 1
