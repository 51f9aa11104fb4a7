"""Arrow tables of a dataset: the schema records arrive in (without ``downloaded_at``), the
stamp, natural-key duplicates and the order rows are stored in."""

from collections.abc import Iterable, Iterator
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from screener_crawler.datasets import DOWNLOADED_AT, Dataset


_stampless_schemas = {}


def stampless_schema(dataset: Dataset) -> pa.Schema:
    """The dataset's schema without ``downloaded_at``, which is added when a unit is staged."""
    if dataset.name not in _stampless_schemas:
        _stampless_schemas[dataset.name] = dataset.schema.remove(dataset.schema.get_field_index(DOWNLOADED_AT.name))
    return _stampless_schemas[dataset.name]


def records_table(dataset: Dataset, records: Iterable[dict]) -> pa.Table:
    """``records`` (dicts of the dataset's columns, values of the schema's types) as one table
    of ``stampless_schema``."""
    return pa.Table.from_pylist(list(records), schema=stampless_schema(dataset))


_empty_tables = {}


def empty_table(dataset: Dataset) -> pa.Table:
    """No rows, in ``stampless_schema`` (made once per dataset: most tickers' units of splits
    and ticker events are empty)."""
    if dataset.name not in _empty_tables:
        _empty_tables[dataset.name] = stampless_schema(dataset).empty_table()
    return _empty_tables[dataset.name]


def as_table(dataset: Dataset, rows: pa.Table | Iterable[dict]) -> pa.Table:
    return rows if isinstance(rows, pa.Table) else records_table(dataset, rows)


def stamped(dataset: Dataset, table: pa.Table, downloaded_at: datetime) -> pa.Table:
    """``table`` (of ``stampless_schema``) in the dataset's full schema, every row stamped."""
    stamp = pa.repeat(pa.scalar(downloaded_at, DOWNLOADED_AT.type), table.num_rows)
    return pa.Table.from_arrays([*table.select(stampless_schema(dataset).names).columns, stamp],
                                schema=dataset.schema)


def sort_keys(dataset: Dataset) -> list[tuple[str, str]]:
    """Stored order: ``ticker``, the partition date, then the rest of the natural key."""
    columns = ["ticker", *([dataset.partition_date] if dataset.partition_date else []), *dataset.natural_key]
    return [(column, "ascending") for column in dict.fromkeys(columns)]


def deduplicate(dataset: Dataset, table: pa.Table) -> tuple[pa.Table, int]:
    """``table`` without the rows whose natural key repeats another's (the first is kept, or,
    with ``dataset.newest_by``, the one latest there; order unchanged), and how many went."""
    if table.num_rows < 2:
        return table, 0
    keys = list(dataset.natural_key)
    ranked = table.select(keys)
    order = None
    if dataset.newest_by:
        order = pc.sort_indices(table, [(dataset.newest_by, "descending", "at_end")]).to_numpy()
        ranked = ranked.take(order)
    ranked = ranked.append_column("__rank", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    kept = ranked.group_by(keys, use_threads=False).aggregate([("__rank", "min")]).column("__rank_min").to_numpy()
    if len(kept) == table.num_rows:
        return table, 0
    rows = kept if order is None else order[kept]
    return table.take(np.sort(rows)), table.num_rows - len(kept)


def in_ticker_order(table: pa.Table) -> pa.Table:
    """``table``'s rows in ticker order, each ticker's in the order they had: ``table`` itself
    when they already are, else a sorted copy."""
    tickers = table.column("ticker")
    if table.num_rows < 2 or pc.all(pc.less_equal(tickers[:-1], tickers[1:]), skip_nulls=False).as_py():
        return table
    return table.sort_by("ticker")


def by_ticker(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    """(ticker, its rows) for each ticker of ``table``, in ticker order; slices of ``table``
    when it is in ticker order already."""
    if table.num_rows == 0:
        return
    table = in_ticker_order(table)
    start = 0
    for entry in pc.value_counts(table.column("ticker")).to_pylist():
        yield entry["values"], table.slice(start, entry["counts"])
        start += entry["counts"]


def month_keys(dataset: Dataset, table: pa.Table) -> pa.Array:
    """Per row, its partition as ``year * 100 + month`` of the partition date (int32)."""
    day = table.column(dataset.partition_date)
    return pc.cast(pc.add(pc.multiply(pc.year(day), 100), pc.month(day)), pa.int32())


def split_by_month(dataset: Dataset, table: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """(``year * 100 + month``, rows) per partition of ``table``, in month order; one piece
    keyed 0 for a dataset without a partition date."""
    if dataset.partition_date is None:
        yield 0, table
        return
    if table.num_rows == 0:
        return
    months = month_keys(dataset, table)
    order = pc.sort_indices(months)
    table, months = table.take(order), months.take(order)
    start = 0
    for entry in pc.value_counts(months).to_pylist():
        yield entry["values"], table.slice(start, entry["counts"])
        start += entry["counts"]
