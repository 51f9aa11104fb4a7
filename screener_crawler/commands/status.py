"""``scrapy status``: check what is on disk against the declared schemas and the ledger.

For every dataset with a folder under the data root, units in the ledger or units staged but
not yet published, it reports files, bytes, rows, distinct tickers, ledger completion, failures
by reason, units staged but not yet published, files whose schema is not the declared one
(and which columns differ), unreadable files, files outside the layout, and coverage (the
share of non-null values per column, from the Parquet footers' statistics), each financial
ratio's coverage among them (those null on more than 95 % of rows flagged, with the ratio
catalogue's note), and how the last crawl ended with the field coverage of the rows it
downloaded (from ``crawl_stats.json`` beside the ledger). It reads every partition file's
footer and ``ticker`` column, never the other columns.

Exit status: 0 when everything is consistent; 1 when a dataset is broken (a file whose schema
differs from the declared one, an unreadable file, a file outside the layout, an unreadable
staged file, a unit done in the ledger without rows on disk), when the ledger cannot be read,
or when the data root still holds the old one-file-per-ticker layout (convert it with
``scrapy compact``); 2 for bad usage.
"""

import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from screener_crawler.connection import LEDGER_IN_DATA_ROOT, data_root, progress_file, project_path
from screener_crawler.datasets import STORED_DATASETS
from screener_crawler.status.checks import build_report
from screener_crawler.status.ledger_view import LedgerView
from screener_crawler.status.progress import Progress
from screener_crawler.status.report import format_json, format_text


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self):
        return "[--data-dir DIR] [--progress-file FILE] [--datasets a,b] [--json] [--limit N]"

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
                            help=f"comma-separated subset of: {', '.join(STORED_DATASETS)}")
        parser.add_argument("--json", action="store_true", help="print one JSON document, every detail in it")
        parser.add_argument("--limit", type=int, default=10, metavar="N",
                            help="list at most N items per section in the text output (default 10)")

    def run(self, args, opts):
        if args:
            raise UsageError(f"unexpected argument(s): {' '.join(args)}")
        if opts.limit < 0:
            raise UsageError("--limit must be at least 0", print_help=False)
        root = project_path(opts.data_dir) if opts.data_dir else data_root(self.settings)
        if not root.is_dir():
            raise UsageError(f"data directory {root} does not exist (nothing downloaded there yet?)",
                             print_help=False)
        progress = Progress()
        report = build_report(root, LedgerView.read(self._ledger_path(root, opts)), self._datasets(opts), progress)
        progress.finish()
        if opts.json:
            print(format_json(report))
        if report["v1_layout"]:
            print(report["problems"][0], file=sys.stderr)
        elif not opts.json:
            print(format_text(report, opts.limit))
        self.exitcode = 0 if report["ok"] else 1

    def _ledger_path(self, root, opts):
        if opts.progress_file:
            path = project_path(opts.progress_file)
            if not path.is_file():
                raise UsageError(f"progress file {path} does not exist", print_help=False)
            return path
        return root / LEDGER_IN_DATA_ROOT if opts.data_dir else progress_file(self.settings)

    @staticmethod
    def _datasets(opts):
        if not opts.datasets:
            return None
        names = {name.strip() for name in opts.datasets.split(",") if name.strip()}
        unknown = sorted(names - set(STORED_DATASETS))
        if unknown:
            raise UsageError(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(STORED_DATASETS)}",
                             print_help=False)
        return names
