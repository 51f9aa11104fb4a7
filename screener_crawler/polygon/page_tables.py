"""Listing pages read straight into Arrow tables by Arrow's JSON reader, which parses in C++
with the GIL released: the reactor's thread runs meanwhile, and the page is read faster than
by decoding it into Python objects (``bench/coerce_page.py`` times both).

A page is read this way only when it is plainly valid: every value of its column's JSON type,
floats finite, dates ``YYYY-MM-DD``, required columns present, and (for statements) no field
the schema does not know. Otherwise these functions return None and the page is read record
by record (``polygon/pages.py``), which coerces what it can and counts what it drops, so both
ways give the same rows.
"""

import dataclasses
import io
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from screener_crawler.coercion import columns_table
from screener_crawler.datasets import DATASETS
from screener_crawler.items import RecordBatch
from screener_crawler.polygon.pages import ReadPage
from screener_crawler.polygon.parsers import BAR_FIELDS, bar_days
from screener_crawler.storage.tables import stampless_schema

_PAGE_ERRORS = (pa.ArrowException, ValueError, TypeError, KeyError)


def _json_type(arrow_type: pa.DataType) -> pa.DataType:
    """The type the JSON reader reads a column as: dates as strings, checked and cast after."""
    return pa.string() if pa.types.is_date32(arrow_type) else arrow_type


def _read(body: bytes, fields: list[pa.Field], unexpected: str) -> tuple[dict, dict] | None:
    """(the page's ``results`` as arrays of ``fields`` and of any unknown ones, by name; its
    ``next_url`` and ``adjusted``), or None when the page is not plainly of those types."""
    schema = pa.schema([pa.field("results", pa.list_(pa.struct(fields))), pa.field("next_url", pa.string()),
                        pa.field("adjusted", pa.bool_())])
    options = pj.ParseOptions(explicit_schema=schema, newlines_in_values=True, unexpected_field_behavior=unexpected)
    try:
        page = pj.read_json(io.BytesIO(body), read_options=pj.ReadOptions(use_threads=False, block_size=len(body) + 1),
                            parse_options=options)
    except _PAGE_ERRORS:
        return None
    if page.num_rows != 1:
        return None
    results = page.column("results").chunk(0)
    records = results.flatten() if results.null_count == 0 else pa.array([], results.type.value_type)
    if records.null_count:
        return None
    header = {"next_url": page.column("next_url")[0].as_py(), "adjusted": bool(page.column("adjusted")[0].as_py())}
    return dict(zip(records.type.names, records.flatten())), header


def _column(values: pa.Array, field: pa.Field) -> pa.Array | None:
    """``values`` as ``field``'s type, or None where the record-by-record path would differ:
    non-finite floats, dates before year 1 (what ``coercion._exact_column`` accepts)."""
    if pa.types.is_float64(field.type):
        return values if pc.is_finite(values).false_count == 0 else None
    if pa.types.is_date32(field.type):
        days = pc.cast(values, pa.date32())
        earliest = pc.min(pc.year(days)).as_py()
        return None if earliest is not None and earliest < 1 else days
    return values


def _page(dataset: str, columns: dict, length: int, next_url: str | None) -> ReadPage | None:
    """``columns`` (name -> array; a column left out is null) as the dataset's page, or None
    when a column is off or a required one has nulls."""
    if not length:
        return ReadPage([], {}, next_url)
    schema = stampless_schema(DATASETS[dataset])
    try:
        checked = {name: _column(values, schema.field(name)) for name, values in columns.items()}
    except _PAGE_ERRORS:
        return None
    if any(values is None for values in checked.values()):
        return None
    table = columns_table(dataset, checked, length)
    return None if table is None else ReadPage([RecordBatch(dataset, table=table, invalid_columns=[])], {}, next_url)


def _api_fields(dataset: str, left_out: tuple = ()) -> list[pa.Field]:
    return [pa.field(field.name, _json_type(field.type)) for field in stampless_schema(DATASETS[dataset])
            if field.name not in left_out]


@lru_cache(maxsize=8)
def _ticker_array(tickers: frozenset) -> pa.Array:
    return pa.array(sorted(tickers), pa.string())


def _of_tickers(values: pa.Array, tickers) -> pa.Array:
    """Whether each of ``values`` is one of ``tickers`` (null for a null value)."""
    return pc.is_in(values, value_set=_ticker_array(frozenset(tickers)))


def v1_statement_page(body: bytes, dataset: str, tickers) -> ReadPage | None:
    """``parsers.v1_statement_page_rows`` read by Arrow: one row per ticker a record lists,
    of the ``tickers`` asked for; None for a page with a field the schema does not know or a
    ticker listed twice in one record."""
    fields = _api_fields(dataset, left_out=("ticker", "source"))
    read = _read(body, fields, unexpected="infer")
    if read is None or len(read[0]) != len(fields):
        return None
    records, header = read
    parents = pc.list_parent_indices(records["tickers"])
    listed = pc.list_flatten(records["tickers"])
    wanted = _of_tickers(listed, tickers)
    parents, listed = parents.filter(wanted), listed.filter(wanted)
    pairs = pa.table({"record": parents, "ticker": listed})
    if pairs.group_by(["record", "ticker"]).aggregate([]).num_rows != pairs.num_rows:
        return None
    columns = {name: values.take(parents) for name, values in records.items()}
    cik = columns["cik"]
    if pc.any(pc.invert(pc.string_is_ascii(cik))).as_py():
        return None
    digits = pc.match_substring_regex(cik, "^[0-9]+$")
    columns["cik"] = pc.if_else(digits, pc.utf8_lpad(cik, width=10, padding="0"), cik)
    columns.update(ticker=listed, source=pa.repeat(pa.scalar("v1", pa.string()), len(listed)))
    return _page(dataset, columns, len(listed), header["next_url"])


def corporate_action_page(body: bytes, dataset: str, source: str, tickers) -> ReadPage | None:
    """``parsers.corporate_action_page_rows`` read by Arrow: the records of the ``tickers``
    asked for; None for a page not plainly valid, or with a field the schema does not know."""
    fields = _api_fields(dataset, left_out=("source",))
    read = _read(body, fields, unexpected="infer")
    if read is None or len(read[0]) != len(fields):
        return None
    records, header = read
    wanted = _of_tickers(records["ticker"], tickers)
    columns = {name: values.filter(wanted) for name, values in records.items()}
    length = len(columns["ticker"])
    columns["source"] = pa.repeat(pa.scalar(source, pa.string()), length)
    return _page(dataset, columns, length, header["next_url"])


_BAR_FIELDS = [pa.field(key, DATASETS["daily_prices"].schema.field(name).type) for name, key in BAR_FIELDS.items()]
"""A bar's fields in the API's spelling, of their columns' types."""


def _bar_columns(records: dict, length: int, adjusted: bool) -> dict:
    columns = {name: records[key] for name, key in BAR_FIELDS.items()}
    columns["adjusted"] = pa.repeat(pa.scalar(adjusted, pa.bool_()), length)
    return columns


def daily_bars_page(body: bytes, ticker: str) -> ReadPage | None:
    """``parsers.daily_bars_page_columns`` read by Arrow: the bar's day is the UTC date twelve
    hours after its start ``t`` (milliseconds)."""
    read = _read(body, [*_BAR_FIELDS, pa.field("t", pa.int64())], unexpected="ignore")
    if read is None:
        return None
    records, header = read
    length = len(records["t"])
    columns = _bar_columns(records, length, header["adjusted"])
    columns.update(ticker=pa.repeat(pa.scalar(ticker, pa.string()), length), date=bar_days(records["t"]))
    return _page("daily_prices", columns, length, header["next_url"])


def grouped_daily_page(body: bytes, day: str, tickers) -> ReadPage | None:
    """``parsers.grouped_daily_page_columns`` read by Arrow: the bars of ``tickers`` only, dated
    ``day``."""
    read = _read(body, [pa.field("T", pa.string()), *_BAR_FIELDS], unexpected="ignore")
    if read is None:
        return None
    records, header = read
    wanted = _of_tickers(records["T"], tickers)
    unlisted = pc.unique(records["T"].filter(pc.invert(wanted))).drop_null().to_pylist()
    records = {name: values.filter(wanted) for name, values in records.items()}
    length = len(records["T"])
    columns = _bar_columns(records, length, header["adjusted"])
    columns.update(ticker=records["T"], date=pa.repeat(pa.scalar(day, pa.string()), length))
    page = _page("daily_prices", columns, length, header["next_url"])
    return page if page is None else dataclasses.replace(page, unlisted_tickers=tuple(sorted(unlisted)))
