"""``scrapy export-qlib --out DIR``: write a Qlib provider directory (prices in ``dump_bin``'s
layout, point-in-time fundamentals in ``dump_pit``'s) from the data on disk. Run it again after
an update: only the tickers whose files change are rewritten. The formats, the split ``factor``,
the symbol mapping and the point-in-time dating: ``screener_crawler/exports/qlib_export.py``.

Exit status: 0 when written; 2 for bad usage (no daily_prices under the data root, an unknown
field, a bad date).
"""

import json
import sys
from datetime import date

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from screener_crawler.connection import data_root, project_path
from screener_crawler.exports.qlib_export import export_qlib
from screener_crawler.exports.qlib_fields import DEFAULT_FIELDS


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self):
        return "--out DIR [--data-dir D] [--tickers A,B] [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--fields f,g] [--json]"

    def short_desc(self):
        return "Write a Qlib data directory (daily bins, point-in-time fundamentals) from the data on disk"

    def long_desc(self):
        return __doc__

    def add_options(self, parser):
        super().add_options(parser)
        parser.add_argument("--out", metavar="DIR", help="the Qlib directory to write (provider_uri)")
        parser.add_argument("--data-dir", metavar="DIR",
                            help="data root to read (default: the crawl's, SCREENER_DATA_DIR)")
        parser.add_argument("--tickers", metavar="A,B", help="only these tickers (default: every one)")
        parser.add_argument("--start", metavar="YYYY-MM-DD", help="first day of the calendar and the bars")
        parser.add_argument("--end", metavar="YYYY-MM-DD",
                            help="last day of the calendar and the bars; no fundamental available later")
        parser.add_argument("--fields", metavar="f,g",
                            help=f"price fields and point-in-time fields (default: {','.join(DEFAULT_FIELDS)})")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON document")

    def run(self, args, opts):
        if args:
            raise UsageError(f"unexpected argument(s): {' '.join(args)}")
        if not opts.out:
            raise UsageError("--out DIR is required", print_help=False)
        root = project_path(opts.data_dir) if opts.data_dir else data_root(self.settings)
        if not root.is_dir():
            raise UsageError(f"data directory {root} does not exist", print_help=False)
        try:
            summary = export_qlib(
                root, project_path(opts.out), tickers=_names(opts.tickers), start=_day(opts.start, "--start"),
                end=_day(opts.end, "--end"), fields=_names(opts.fields),
                batch_tickers=self.settings.getint("QLIB_EXPORT_BATCH_TICKERS"),
                workers=self.settings.getint("QLIB_EXPORT_WORKERS"),
                progress=None if opts.json else lambda message: print(message, file=sys.stderr))
        except ValueError as error:
            raise UsageError(str(error), print_help=False) from error
        if opts.json:
            print(json.dumps(summary.as_dict()))
            return
        print(f"{summary.out}: {summary.calendar_days:,} trading days, {summary.instruments:,} instruments, "
              f"{summary.tickers:,} tickers ({summary.tickers_written:,} written, {summary.tickers_unchanged:,} "
              f"unchanged, {summary.tickers_removed:,} removed), {summary.files:,} files and "
              f"{summary.bytes:,} bytes written in {summary.seconds:.1f} s")
        if summary.bars_off_calendar or summary.pit_rows_without_period:
            print(f"left out: {summary.bars_off_calendar:,} bars on days the exchange did not trade, "
                  f"{summary.pit_rows_without_period:,} values without a usable fiscal period", file=sys.stderr)


def _names(text):
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError("an empty list", print_help=False)
    return names


def _day(text, option):
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} must be a date YYYY-MM-DD, not {text!r}", print_help=False) from None
