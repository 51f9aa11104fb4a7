"""``scrapy status``: check what is on disk against the declared schemas and the ledger.

For every dataset with a folder under the data root (or entries in the ledger) it reports files,
rows, tickers, ledger completion, failed tickers, schema consistency, unreadable files, field
coverage and units the ledger calls done whose files are missing. It never reads the data, so
it stays quick on millions of files: row counts and per-column null counts come from what the
writer recorded of each file it wrote (``file_facts.py``), for every file still as it was
written, and from the Parquet footers' row-group statistics for the others (read in parallel).
``--deep`` reads every footer, whatever the writer recorded.

Exit status: 0 when everything is consistent, 1 when a dataset is broken (a file whose schema
differs from the declared one, an unreadable file, a unit done in the ledger with no files, an
unreadable ledger), 2 for bad usage.
"""

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

file_facts = None  # rewritten for storage v2 (one file per partition); see issue 31
from ..connection import LEDGER_IN_DATA_ROOT, data_root, progress_file, project_path
from ..datasets import DATASETS
from ..ledger import Ledger

FILES_PER_TASK = 256
PROGRESS_AFTER_SECONDS = 3.0
PROGRESS_EVERY_SECONDS = 2.0
ARROW_SCHEMA_KEY = b"ARROW:schema"


# --- Reading footers -------------------------------------------------------------------------

def is_temporary(name):
    """Temporaries (``.x.tmp``) and metadata side files (``_SUCCESS``): pyarrow skips them too."""
    return name.startswith((".", "_"))


def data_files(base):
    """Every data file under ``base`` (recursively), temporaries left out, sorted."""
    files, folders = [], [str(base)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if is_temporary(entry.name):
                    continue
                if entry.is_dir():
                    folders.append(entry.path)
                else:
                    files.append(entry.path)
    return sorted(files)


def ticker_of(path):
    """The ticker a unit file belongs to (``ticker=<T>.parquet``), None for a market table."""
    name = os.path.basename(path)
    if name.startswith("ticker=") and name.endswith(".parquet"):
        return name[len("ticker="):-len(".parquet")]
    return None


@dataclass
class FooterTally:
    """What the footers of some of one dataset's files say, summed (mergeable)."""

    columns: tuple
    files: int = 0
    rows: int = 0
    rows_by_ticker: dict = field(default_factory=dict)
    null_counts: list = None
    """Per declared column: nulls in the row groups whose footer has a null count for it."""
    counted_rows: list = None
    """Per declared column: rows of those row groups (the denominator of its coverage)."""
    schema_mismatches: dict = field(default_factory=dict)
    unreadable: dict = field(default_factory=dict)

    def __post_init__(self):
        self.null_counts = self.null_counts or [0] * len(self.columns)
        self.counted_rows = self.counted_rows or [0] * len(self.columns)

    def merge(self, other):
        self.files += other.files
        self.rows += other.rows
        for ticker, rows in other.rows_by_ticker.items():
            self.rows_by_ticker[ticker] = self.rows_by_ticker.get(ticker, 0) + rows
        for index in range(len(self.columns)):
            self.null_counts[index] += other.null_counts[index]
            self.counted_rows[index] += other.counted_rows[index]
        self.schema_mismatches.update(other.schema_mismatches)
        self.unreadable.update(other.unreadable)

    def coverage(self):
        """Non-null % per column; None where no footer had statistics (e.g. list columns)."""
        return {column: (round(100.0 * (counted - nulls) / counted, 2) if counted else None)
                for column, nulls, counted in zip(self.columns, self.null_counts, self.counted_rows)}


def describe_schema_difference(actual, expected):
    """Why ``actual`` is not ``expected``, in a few words."""
    extra = [name for name in actual.names if name not in expected.names]
    missing = [name for name in expected.names if name not in actual.names]
    retyped = []
    for expected_field in expected:
        if expected_field.name in actual.names and expected_field.name not in extra:
            actual_field = actual.field(expected_field.name)
            if not actual_field.equals(expected_field):
                retyped.append(f"{expected_field.name} is {_describe_field(actual_field)}, "
                               f"declared {_describe_field(expected_field)}")
    parts = []
    if extra:
        parts.append(f"extra column(s) {', '.join(extra)}")
    if missing:
        parts.append(f"missing column(s) {', '.join(missing)}")
    parts += retyped
    if not parts:
        parts.append("columns in a different order" if actual.names != expected.names
                     else "differs from the declared schema")
    return "; ".join(parts)


def _describe_field(schema_field):
    return f"{schema_field.type}{'' if schema_field.nullable else ' not null'}"


def _leaf_columns(metadata, dataset):
    """(leaf index, declared column index) for every column whose nulls are counted
    (``Dataset.null_counted``)."""
    position = {name: index for index, name in enumerate(dataset.schema.names)}
    leaves = []
    for leaf in range(metadata.num_columns):
        top = metadata.schema.column(leaf).path.split(".")[0]
        if top in position and dataset.null_counted[position[top]]:
            leaves.append((leaf, position[top]))
    return leaves


def tally_footers(dataset_name, paths):
    """Read the footers of ``paths`` (files of one dataset) and sum what they say."""
    dataset = DATASETS[dataset_name]
    tally = FooterTally(tuple(dataset.schema.names))
    verdicts = {}  # serialized Arrow schema -> None (matches) or what differs
    leaves = None
    for path in paths:
        tally.files += 1
        try:
            metadata = pq.read_metadata(path)
        except Exception as error:  # garbage bytes, truncated, empty, permission denied
            tally.unreadable[path] = f"{type(error).__name__}: {error}"
            continue
        rows = metadata.num_rows
        tally.rows += rows
        ticker = ticker_of(path)
        if ticker is not None:
            tally.rows_by_ticker[ticker] = tally.rows_by_ticker.get(ticker, 0) + rows

        problem = _schema_problem(metadata, dataset.schema, verdicts)
        if problem is not None:
            tally.schema_mismatches[path] = problem
            continue
        if leaves is None:
            leaves = _leaf_columns(metadata, dataset)
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            group_rows = row_group.num_rows
            for leaf, column in leaves:
                statistics = row_group.column(leaf).statistics
                if statistics is not None and statistics.has_null_count:
                    tally.null_counts[column] += statistics.null_count
                    tally.counted_rows[column] += group_rows
    return dataset_name, tally


def _schema_problem(metadata, expected, verdicts):
    """None when the file's Arrow schema (metadata removed) is the declared one, else why not.

    Converting a footer's schema costs more than reading it, so the verdict is remembered per
    serialized Arrow schema (which pyarrow stores in every file it writes)."""
    key = None
    if metadata.metadata and ARROW_SCHEMA_KEY in metadata.metadata:
        key = (metadata.metadata[ARROW_SCHEMA_KEY], metadata.num_columns)
        if key in verdicts:
            return verdicts[key]
    try:
        actual = metadata.schema.to_arrow_schema()
    except Exception as error:
        verdict = f"schema cannot be read as Arrow: {error}"
    else:
        verdict = (None if actual.equals(expected, check_metadata=False)
                   else describe_schema_difference(actual, expected))
    if key is not None:
        verdicts[key] = verdict
    return verdict


def tally_known(dataset_name, facts_paths, dataset_folder):
    """What the writer's facts in ``facts_paths`` say of the files they still match (same size,
    modification time and inode), summed; and the matched files' paths under the dataset."""
    dataset = DATASETS[dataset_name]
    tally = FooterTally(tuple(dataset.schema.names))
    known = set()
    for facts_path in facts_paths:
        for fact in file_facts.read_facts(facts_path, dataset):
            try:
                matches = fact.matches(os.stat(os.path.join(dataset_folder, fact.relative_path)))
            except OSError:
                continue
            if not matches or fact.relative_path in known:
                continue
            known.add(fact.relative_path)
            tally.files += 1
            tally.rows += fact.rows
            ticker = ticker_of(fact.relative_path)
            if ticker is not None:
                tally.rows_by_ticker[ticker] = tally.rows_by_ticker.get(ticker, 0) + fact.rows
            for column, nulls in enumerate(fact.nulls):
                if nulls is not None:
                    tally.null_counts[column] += nulls
                    tally.counted_rows[column] += fact.rows
    return dataset_name, tally, known


def _run_tasks(function, tasks, workers, collect):
    if workers == 1 or len(tasks) <= 1:
        collect(function(*task) for task in tasks)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(function, *task) for task in tasks]
            collect(future.result() for future in as_completed(futures))


def read_footers(files_by_dataset, workers, progress, root=None):
    """``{dataset: FooterTally}`` over every file, and how many footers were read.

    With ``root``, files the writer's facts still describe (``file_facts.py``) are counted from
    them; the footers of the others are read, ``FILES_PER_TASK`` files a task, in a thread pool
    (pyarrow parses footers without the GIL; on the 200,000-file benchmark eight threads beat as
    many worker processes, which pay for forking and pickling)."""
    tallies = {name: FooterTally(tuple(DATASETS[name].schema.names)) for name in files_by_dataset}
    total = sum(len(files) for files in files_by_dataset.values())
    done = 0

    def count(tally):
        nonlocal done
        done += tally.files
        progress.update(f"checked {done:,}/{total:,} files ({100.0 * done / total:.0f}%)")

    unknown = files_by_dataset
    if root is not None:
        known = {name: set() for name in files_by_dataset}

        def collect_known(results):
            for name, tally, paths in results:
                tallies[name].merge(tally)
                known[name] |= paths
                count(tally)

        facts_tasks = [(name, paths[start:start + FILES_PER_TASK], str(Path(root) / name))
                       for name in files_by_dataset
                       for paths in [file_facts.facts_files(root, DATASETS[name])]
                       for start in range(0, len(paths), FILES_PER_TASK)]
        _run_tasks(tally_known, facts_tasks, workers, collect_known)
        unknown = {}
        for name, files in files_by_dataset.items():
            prefix = len(str(Path(root) / name)) + 1
            unknown[name] = [path for path in files if path[prefix:] not in known[name]]

    def collect(results):
        for name, tally in results:
            tallies[name].merge(tally)
            count(tally)

    footer_tasks = [(name, files[start:start + FILES_PER_TASK])
                    for name, files in unknown.items()
                    for start in range(0, len(files), FILES_PER_TASK)]
    _run_tasks(tally_footers, footer_tasks, workers, collect)
    return tallies, sum(len(files) for files in unknown.values())


class Progress:
    """A progress line on stderr, only once the work has taken more than a few seconds."""

    def __init__(self, stream=sys.stderr):
        self._stream = stream
        self._started = time.monotonic()
        self._last = None
        self._shown = False
        self._tty = stream.isatty()

    def elapsed(self):
        return time.monotonic() - self._started

    def update(self, message, force=False):
        now = time.monotonic()
        if not force and (now - self._started < PROGRESS_AFTER_SECONDS
                          or (self._last is not None and now - self._last < PROGRESS_EVERY_SECONDS)):
            return
        self._last = now
        self._shown = True
        line = f"status: {message}, {self.elapsed():.0f}s"
        self._stream.write(f"\r{line}\033[K" if self._tty else f"{line}\n")
        self._stream.flush()

    def finish(self):
        if self._shown and self._tty:
            self._stream.write("\n")
            self._stream.flush()


# --- Checking against the ledger --------------------------------------------------------------

@dataclass
class LedgerView:
    """The parts of the ledger ``status`` needs, read without changing it."""

    path: Path
    found: bool
    state: dict
    error: str = None

    @classmethod
    def read(cls, path):
        path = Path(path)
        if not path.exists():
            return cls(path, False, {})
        try:
            return cls(path, True, Ledger.load(path).as_dict())
        except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
            return cls(path, True, {}, f"{type(error).__name__}: {error}")

    def entry(self, dataset):
        entry = (self.state.get("datasets") or {}).get(dataset) or {}
        return entry.get("done") or {}, entry.get("failed") or {}

    def datasets(self):
        """Datasets with at least one unit done or failed."""
        return {name for name in self.state.get("datasets") or {} if any(self.entry(name))}

    def tickers(self):
        """Every ticker the ledger mentions, in any dataset or in the top-level keys."""
        tickers = set(self.state.get("completed") or ()) | set(self.state.get("failed") or {})
        for name in self.datasets():
            done, failed = self.entry(name)
            tickers |= set(done) | set(failed)
        return tickers


def universe_tickers(root, tally):
    """Tickers of the universe table (one small column of one file), None when absent/unreadable."""
    path = Path(root) / "universe" / "universe.parquet"
    if "universe" not in DATASETS or tally is None or str(path) in tally.unreadable:
        return None
    if not path.exists() or str(path) in tally.schema_mismatches:
        return None
    try:
        return set(pq.read_table(path, columns=["ticker"]).column("ticker").to_pylist())
    except Exception:
        return None


def _percent(part, whole):
    return round(100.0 * part / whole, 2) if whole else None


def check_dataset(name, tally, ledger, base_tickers, root):
    """The report of one dataset: figures, problems, and whether it is broken."""
    dataset = DATASETS[name]
    done, failed = ledger.entry(name)
    failed = {ticker: failure for ticker, failure in failed.items() if ticker not in done}
    relative = lambda path: os.path.relpath(path, root)  # noqa: E731

    if dataset.per_ticker:
        on_disk = set(tally.rows_by_ticker)
        unreadable_tickers = {ticker_of(path) for path in tally.unreadable}
        missing = sorted(ticker for ticker, unit in done.items()
                         if (unit or {}).get("rows", 0) > 0
                         and ticker not in on_disk and ticker not in unreadable_tickers)
        total = len(base_tickers)
        done_count = len(base_tickers & set(done))
        failed_count = len(base_tickers & set(failed))
        completion = {
            "tickers": total, "done": done_count, "failed": failed_count,
            "pending": total - done_count - failed_count,
            "done_pct": _percent(done_count, total), "failed_pct": _percent(failed_count, total),
            "pending_pct": _percent(total - done_count - failed_count, total),
        }
        tickers = len(on_disk)
    else:
        rows_in_ledger = sum((unit or {}).get("rows", 0) for unit in done.values())
        missing = [name] if rows_in_ledger > 0 and tally.files == 0 else []
        completion = None
        tickers = None

    problems = []
    if tally.schema_mismatches:
        problems.append(f"{len(tally.schema_mismatches)} file(s) with another schema")
    if tally.unreadable:
        problems.append(f"{len(tally.unreadable)} unreadable file(s)")
    if missing:
        problems.append(f"{len(missing)} unit(s) done in the ledger but without files")
    return {
        "files": tally.files,
        "rows": tally.rows,
        "tickers": tickers,
        "completion": completion,
        "failed_tickers": {ticker: (failure or {}).get("error") for ticker, failure in sorted(failed.items())},
        "schema_mismatches": [{"file": relative(path), "problem": problem}
                              for path, problem in sorted(tally.schema_mismatches.items())],
        "unreadable_files": [{"file": relative(path), "error": error}
                             for path, error in sorted(tally.unreadable.items())],
        "done_but_missing": missing,
        "field_coverage": tally.coverage(),
        "problems": problems,
        "broken": bool(problems),
    }


def build_report(root, ledger, datasets, workers, progress, deep=False):
    """The whole report as one JSON-able dict."""
    folders = {entry.name for entry in os.scandir(root) if entry.is_dir() and not is_temporary(entry.name)}
    selected = [name for name in DATASETS
                if (datasets is None or name in datasets)
                and (name in folders or name in ledger.datasets())]
    files = {name: (data_files(Path(root) / name) if name in folders else []) for name in selected}
    progress.update(f"listed {sum(map(len, files.values())):,} files")
    tallies, footers_read = read_footers(files, workers, progress, root=None)

    base_tickers = universe_tickers(root, tallies.get("universe"))
    base = "universe"
    if base_tickers is None:
        base_tickers, base = ledger.tickers(), "ledger"
    reports = {name: check_dataset(name, tallies[name], ledger, base_tickers, root) for name in selected}

    ledger_problems = [f"ledger unreadable: {ledger.error}"] if ledger.error else []
    return {
        "data_root": str(root),
        "progress_file": str(ledger.path),
        "ledger": {
            "found": ledger.found,
            "error": ledger.error,
            "total_tickers": ledger.state.get("total_tickers"),
            "completed": len(ledger.state.get("completed") or ()),
            "failed": len(ledger.state.get("failed") or {}),
            "started_at": ledger.state.get("started_at") if ledger.found else None,
            "last_updated": ledger.state.get("last_updated"),
        },
        "completion_base": {"source": base, "tickers": len(base_tickers)},
        "other_folders": sorted(folders - set(DATASETS)),
        "ledger_only_datasets": sorted(ledger.datasets() - set(DATASETS)),
        "datasets": reports,
        "problems": ledger_problems + [f"{name}: {problem}" for name, report in reports.items()
                                       for problem in report["problems"]],
        "files_checked": {"footers_read": footers_read,
                          "from_writer_facts": sum(len(paths) for paths in files.values()) - footers_read},
        "ok": not ledger_problems and not any(report["broken"] for report in reports.values()),
        "elapsed_seconds": round(progress.elapsed(), 2),
    }


# --- Text output ------------------------------------------------------------------------------

TABLE_COLUMNS = ("dataset", "files", "rows", "tickers", "done", "failed", "pending", "done%",
                 "schema", "unreadable", "missing", "status")


def _number(value):
    return "-" if value is None else f"{value:,}"


def _pct(value):
    return "-" if value is None else f"{value:.1f}%"


def table_rows(report):
    for name, dataset in report["datasets"].items():
        completion = dataset["completion"] or {}
        yield (name, _number(dataset["files"]), _number(dataset["rows"]), _number(dataset["tickers"]),
               _number(completion.get("done")), _number(completion.get("failed")),
               _number(completion.get("pending")), _pct(completion.get("done_pct")),
               "ok" if not dataset["schema_mismatches"] else f"{len(dataset['schema_mismatches'])} bad",
               _number(len(dataset["unreadable_files"])), _number(len(dataset["done_but_missing"])),
               "BROKEN" if dataset["broken"] else "ok")


def format_table(rows):
    rows = [TABLE_COLUMNS, *rows]
    widths = [max(len(row[index]) for row in rows) for index in range(len(TABLE_COLUMNS))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
    lines.insert(1, "-" * len(lines[0]))
    return lines


def _listing(items, limit):
    items = list(items)
    shown = items[:limit]
    more = len(items) - len(shown)
    return shown, (f"    ... and {more:,} more (--json lists all)" if more > 0 else None)


def _wrapped(entries, indent="    ", width=100):
    lines, line = [], indent
    for entry in entries:
        if len(line) + len(entry) > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += entry + "   "
    if line.strip():
        lines.append(line.rstrip())
    return lines


def format_text(report, limit):
    ledger = report["ledger"]
    lines = [f"Data root: {report['data_root']}"]
    if ledger["error"]:
        lines.append(f"Ledger:    {report['progress_file']} is UNREADABLE ({ledger['error']})")
    elif ledger["found"]:
        lines.append(f"Ledger:    {report['progress_file']} (last updated {ledger['last_updated'] or '-'}; "
                     f"{ledger['completed']:,} completed of {_number(ledger['total_tickers'])} tickers, "
                     f"{ledger['failed']:,} failed)")
    else:
        lines.append(f"Ledger:    none at {report['progress_file']}")
    base = report["completion_base"]
    lines.append(f"Completion is measured against {base['tickers']:,} tickers "
                 f"({'the universe table' if base['source'] == 'universe' else 'every ticker the ledger mentions'}).")
    if not report["datasets"]:
        lines += ["", "Nothing downloaded yet: no dataset folder under the data root."]
    else:
        lines += ["", *format_table(table_rows(report))]

    for name, dataset in report["datasets"].items():
        detail = []
        if dataset["schema_mismatches"]:
            detail.append(f"  files whose schema is not the declared one ({len(dataset['schema_mismatches']):,}):")
            shown, more = _listing(dataset["schema_mismatches"], limit)
            detail += [f"    {item['file']}: {item['problem']}" for item in shown] + ([more] if more else [])
        if dataset["unreadable_files"]:
            detail.append(f"  unreadable files ({len(dataset['unreadable_files']):,}):")
            shown, more = _listing(dataset["unreadable_files"], limit)
            detail += [f"    {item['file']}: {item['error']}" for item in shown] + ([more] if more else [])
        if dataset["done_but_missing"]:
            detail.append(f"  done in the ledger but no files on disk ({len(dataset['done_but_missing']):,}):")
            shown, more = _listing(dataset["done_but_missing"], limit)
            detail += _wrapped(shown) + ([more] if more else [])
        if dataset["failed_tickers"]:
            detail.append(f"  failed tickers ({len(dataset['failed_tickers']):,}):")
            shown, more = _listing(dataset["failed_tickers"].items(), limit)
            detail += [f"    {ticker}: {error}" for ticker, error in shown] + ([more] if more else [])
        coverage = dataset["field_coverage"]
        if dataset["rows"]:
            partial = sorted((value, column) for column, value in coverage.items() if value is not None and value < 100)
            full = sum(1 for value in coverage.values() if value == 100)
            unknown = [column for column, value in coverage.items() if value is None]
            summary = f"  field coverage (non-null): {full} of {len(coverage)} columns at 100%"
            if unknown:
                summary += f"; no statistics for {', '.join(unknown)}"
            if partial:
                summary += f"; lowest {min(limit, len(partial))} of the other {len(partial)}:"
            detail.append(summary)
            shown, more = _listing(partial, limit)
            detail += _wrapped(f"{column} {value:.1f}%" for value, column in shown) + ([more] if more else [])
        if detail:
            lines += ["", name, *detail]

    notes = []
    if report["other_folders"]:
        notes.append(f"folders that are not datasets: {', '.join(report['other_folders'])}")
    if report["ledger_only_datasets"]:
        notes.append(f"ledger entries for undeclared datasets: {', '.join(report['ledger_only_datasets'])}")
    if notes:
        lines += ["", *(f"Note: {note}" for note in notes)]
    checked = report["files_checked"]
    lines += ["", f"Files checked: {checked['from_writer_facts']:,} as the writer recorded them, "
                  f"{checked['footers_read']:,} by their Parquet footer."]
    if report["ok"]:
        lines.append(f"OK: every dataset is consistent ({report['elapsed_seconds']:.1f}s).")
    else:
        lines.append(f"BROKEN ({report['elapsed_seconds']:.1f}s):")
        lines += [f"  {problem}" for problem in report["problems"]]
    return "\n".join(lines)


# --- The command ------------------------------------------------------------------------------

class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self):
        return "[--data-dir DIR] [--progress-file FILE] [--datasets a,b] [--json] [--limit N] [--deep] [--workers N]"

    def short_desc(self):
        return "Check the downloaded data: counts, completion, schemas, coverage (exit 1 if broken)"

    def long_desc(self):
        return __doc__

    def add_options(self, parser):
        super().add_options(parser)
        parser.add_argument("--data-dir", metavar="DIR",
                            help="data root to check (default: the crawl's, SCREENER_DATA_DIR)")
        parser.add_argument("--progress-file", metavar="FILE",
                            help="download ledger (default: the crawl's, SCREENER_PROGRESS_FILE)")
        parser.add_argument("--datasets", metavar="NAMES",
                            help=f"comma-separated subset of: {', '.join(DATASETS)}")
        parser.add_argument("--json", action="store_true", help="print one JSON document")
        parser.add_argument("--limit", type=int, default=10, metavar="N",
                            help="list at most N items per section in the text output (default 10)")
        parser.add_argument("--deep", action="store_true",
                            help="read every file's footer, even where the writer's facts still describe the file")
        parser.add_argument("--workers", type=int, default=min(32, 4 * (os.cpu_count() or 1)),
                            metavar="N", help="threads reading footers (default: 4 per CPU, at most 32)")

    def run(self, args, opts):
        if args:
            raise UsageError(f"unexpected argument(s): {' '.join(args)}")
        root = project_path(opts.data_dir) if opts.data_dir else data_root(self.settings)
        if not root.is_dir():
            raise UsageError(f"data directory {root} does not exist (nothing downloaded there yet?)",
                             print_help=False)
        if opts.progress_file:
            ledger_path = project_path(opts.progress_file)
            if not ledger_path.is_file():
                raise UsageError(f"progress file {ledger_path} does not exist", print_help=False)
        elif opts.data_dir:
            ledger_path = root / LEDGER_IN_DATA_ROOT
        else:
            ledger_path = progress_file(self.settings)
        datasets = None
        if opts.datasets:
            datasets = {name.strip() for name in opts.datasets.split(",") if name.strip()}
            unknown = sorted(datasets - set(DATASETS))
            if unknown:
                raise UsageError(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(DATASETS)}",
                                 print_help=False)
        if opts.workers < 1 or opts.limit < 0:
            raise UsageError("--workers must be at least 1 and --limit at least 0", print_help=False)

        progress = Progress()
        report = build_report(root, LedgerView.read(ledger_path), datasets, opts.workers, progress,
                              deep=opts.deep)
        progress.finish()
        if opts.json:
            print(json.dumps(report, indent=1))
        else:
            print(format_text(report, opts.limit))
        self.exitcode = 0 if report["ok"] else 1
