"""A listing page read in one go: decoded, turned into rows and coerced to its datasets'
schemas, off the reactor's thread. A request names how its page becomes rows (``PAGE_READER``
in its meta); the page reader middleware reads the page in a thread and leaves the
``ReadPage`` beside it (``PAGE_READ``).
"""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

import pyarrow as pa

from screener_crawler.coercion import coerce_columns, coerce_records
from screener_crawler.datasets import DATASETS
from screener_crawler.polygon.parsers import ParsedColumns
from screener_crawler.items import RecordBatch
from screener_crawler.polygon.payload import decode_json
from screener_crawler.storage.tables import in_ticker_order

PAGE_READER = "polygon_page_reader"
"""Request meta: the ``PageReader`` of the request's pages."""
PAGE_READ = "screener_page_read"
"""Request meta: the ``ReadPage`` of the response, or None when its body is not JSON."""


@dataclass(frozen=True)
class PageReader:
    """``rows(payload, *args)`` gives the ``ParsedRow``s of a decoded page, or its
    ``ParsedColumns``; ``table(body, *args)``, when given, reads a plainly valid page straight
    into its ``ReadPage`` (``polygon/page_tables.py``) and returns None for any other, which
    ``rows`` then reads. Both are module-level functions, so a reader pickles by name into JOBDIR."""

    rows: Callable
    args: tuple = ()
    table: Callable | None = None
    rows_by_ticker: bool = True
    """The page's rows are held per ticker (``UnitCollectorPipeline``): they are put in ticker
    order here, in the reading thread, so that cutting them per ticker on the reactor's thread
    copies nothing. False for a market-wide listing's rows, held whole."""


@dataclass
class ReadPage:
    batches: list
    """One ``RecordBatch`` per dataset, its ``table`` and ``invalid_columns`` set."""
    unknown_fields: dict
    """(dataset, field the schema does not know) -> how many rows had it."""
    next_url: str | None
    unlisted_tickers: tuple = ()
    """Tickers the page had records of that the crawl does not download (not in its universe)."""


def group_rows(parsed_rows, datasets=None):
    """(dataset -> its rows, in order; (dataset, field the schema does not know) -> how many rows
    had it) of ``parsed_rows``, only of ``datasets`` when given."""
    records, unknown_fields = defaultdict(list), Counter()
    for parsed in parsed_rows:
        if datasets is None or parsed.dataset in datasets:
            records[parsed.dataset].append(parsed.row)
            unknown_fields.update((parsed.dataset, name) for name in parsed.unknown_fields)
    return records, unknown_fields


ROWS_AT_ONCE = 2048
"""Rows parsed and coerced together: a page's rows, as dicts, then tuples and columns, took as
much memory again as its decoded JSON (about 100 MB for a 23-MB statements page); in slices
they take a small part of it."""


def read_page(reader, body):
    """``body`` read by ``reader``, or None when the body is not JSON."""
    page = _read_page(reader, body)
    if page is not None and reader.rows_by_ticker:
        for batch in page.batches:
            if DATASETS[batch.dataset].per_ticker:
                batch.table = in_ticker_order(batch.table)
    return page


def _read_page(reader, body):
    if reader.table is not None and (page := reader.table(body, *reader.args)) is not None:
        return page
    try:
        payload = decode_json(body)
    except (ValueError, UnicodeDecodeError):
        return None
    parsed = reader.rows(payload, *reader.args)
    if isinstance(parsed, ParsedColumns):
        if not parsed.length:
            return ReadPage([], {}, payload.get("next_url"), parsed.unlisted_tickers)
        table, invalid = coerce_columns(parsed.dataset, parsed.columns, parsed.length)
        return ReadPage([RecordBatch(parsed.dataset, table=table, invalid_columns=invalid)], {}, payload.get("next_url"),
                        parsed.unlisted_tickers)
    tables, invalid_columns, unknown_fields = defaultdict(list), defaultdict(list), Counter()
    parsed_rows = iter(parsed)
    while rows := list(islice(parsed_rows, ROWS_AT_ONCE)):
        records, unknown = group_rows(rows)
        unknown_fields.update(unknown)
        for dataset, dataset_rows in records.items():
            table, invalid = coerce_records(dataset, dataset_rows)
            tables[dataset].append(table)
            invalid_columns[dataset] += invalid
    batches = [RecordBatch(dataset, table=pa.concat_tables(pieces), invalid_columns=invalid_columns[dataset])
               for dataset, pieces in tables.items()]
    return ReadPage(batches, dict(unknown_fields), payload.get("next_url"))
