"""Coercion of API records to their dataset's schema: every value of its column's type, or the
record dropped. Pure functions, run by the validation pipeline and by the page reader
(``polygon/pages.py``).
"""

import logging
import math
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from screener_crawler.datasets import DATASETS
from screener_crawler.storage.tables import stampless_schema

logger = logging.getLogger(__name__)


class InvalidValue(ValueError):
    pass


def _string(value):
    if isinstance(value, str):
        return value
    raise InvalidValue


def _float(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise InvalidValue


def _int(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise InvalidValue


def _bool(value):
    if isinstance(value, bool):
        return value
    raise InvalidValue


def _date(value):
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) in (8, 10):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidValue


def _timestamp(value):
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise InvalidValue


def _string_list(value):
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InvalidValue


def coercer(arrow_type):
    """The function that turns a JSON value into a Python value of ``arrow_type``."""
    if pa.types.is_string(arrow_type):
        return _string
    if pa.types.is_float64(arrow_type):
        return _float
    if pa.types.is_int64(arrow_type):
        return _int
    if pa.types.is_boolean(arrow_type):
        return _bool
    if pa.types.is_date32(arrow_type):
        return _date
    if pa.types.is_timestamp(arrow_type):
        return _timestamp
    if pa.types.is_list(arrow_type) and pa.types.is_string(arrow_type.value_type):
        return _string_list
    raise TypeError(f"no coercion for {arrow_type}")


COERCERS = {
    name: {f.name: coercer(f.type) for f in dataset.schema}
    for name, dataset in DATASETS.items()
}


def validate_record(dataset, record):
    """The record with every value of its schema's type, or ``InvalidValue`` naming the column."""
    coercers = COERCERS[dataset]
    row = {}
    for column, value in record.items():
        if value is None:
            row[column] = None
            continue
        try:
            row[column] = coercers[column](value)
        except InvalidValue:
            raise InvalidValue(column) from None
    for column in DATASETS[dataset].required:
        if row.get(column) is None:
            raise InvalidValue(column)
    return row


def _table(schema, rows):
    """``rows`` (tuples of values in ``schema``'s column order) as a table: a tuple per row
    weighs a tenth of a dict, which matters on 50,000-row pages."""
    columns = zip(*rows) if rows else [()] * len(schema)
    return pa.Table.from_arrays([pa.array(values, field.type) for values, field in zip(columns, schema)],
                                schema=schema)


def _exact_column(values, field):
    """``values`` as an array of ``field``'s type when Arrow's own conversion gives what the
    coercers would, else None. Arrow alone is laxer (``True`` becomes 1.0, 1.5 becomes 1, NaN
    passes), so a column qualifies only when its values are already of the Python types the
    coercers pass unchanged; dates must be ``YYYY-MM-DD``, which both read alike, from year 1
    (Arrow also reads year 0, which Python's dates cannot hold)."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    arrow_type = field.type
    if pa.types.is_string(arrow_type) and kinds <= {str}:
        return pa.array(values, arrow_type)
    if pa.types.is_float64(arrow_type) and kinds <= {float, int}:
        array = pa.array(values, arrow_type)
        return array if pc.is_finite(array).false_count == 0 else None
    if (pa.types.is_int64(arrow_type) and kinds <= {int}) or (pa.types.is_boolean(arrow_type) and kinds <= {bool}):
        return pa.array(values, arrow_type)
    if pa.types.is_date32(arrow_type) and kinds <= {str}:
        array = pc.cast(pa.array(values, pa.string()), arrow_type)
        earliest = pc.min(pc.year(array)).as_py()
        return None if earliest is not None and earliest < 1 else array
    return None


def _all_valid_table(dataset, records):
    """``records`` as one table when every one of them is valid, coerced a column at a time
    (a third of the time of a record at a time on a 12,500-record statements page,
    ``bench/coerce_page.py``); None as soon as a column is not plainly valid, and the caller
    goes record by record."""
    schema = stampless_schema(DATASETS[dataset])
    coercers, required = COERCERS[dataset], set(DATASETS[dataset].required)
    names = schema.names
    arrays = []
    for field, values in zip(schema, zip(*[tuple(map(record.get, names)) for record in records])):
        try:
            array = _exact_column(values, field)
            if array is None:
                coerce = coercers[field.name]
                array = pa.array([None if value is None else coerce(value) for value in values], field.type)
        except (InvalidValue, pa.ArrowException, OverflowError, TypeError, ValueError):
            return None
        if field.name in required and array.null_count:
            return None
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)


def coerce_records(dataset, records):
    """(the valid ``records`` of ``dataset`` as one table of its stampless schema, the names of
    the invalid columns, one per dropped record)."""
    records = list(records)
    table = _all_valid_table(dataset, records) if records else None
    if table is not None:
        return table, []
    return coerce_record_by_record(dataset, records)


def columns_table(dataset, columns, length):
    """Records given as columns (name -> values, or an Arrow array of the column's type; a
    column left out is null) as one table of the dataset's stampless schema, or None when a
    column is not plainly valid or a required one has nulls."""
    schema = stampless_schema(DATASETS[dataset])
    required = set(DATASETS[dataset].required)
    arrays = []
    for field in schema:
        values = columns.get(field.name)
        if values is None:
            array = pa.nulls(length, field.type)
        elif isinstance(values, pa.Array):
            array = values if values.type == field.type else None
        else:
            try:
                array = _exact_column(values, field)
            except (pa.ArrowException, OverflowError, TypeError, ValueError):
                array = None
        if array is None or (field.name in required and array.null_count):
            return None
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)


def coerce_columns(dataset, columns, length):
    """``coerce_records`` of records given as columns (as ``columns_table`` takes them): a
    column at a time, or, when a column is not plainly valid, record by record."""
    table = columns_table(dataset, columns, length)
    if table is not None:
        return table, []
    return coerce_record_by_record(dataset, _records(columns, length))


def _records(columns, length):
    lists = {name: (values.cast(pa.string()) if pa.types.is_date32(values.type) else values).to_pylist()
             if isinstance(values, pa.Array) else values for name, values in columns.items()}
    return [{name: values[position] for name, values in lists.items()} for position in range(length)]


def coerce_record_by_record(dataset, records):
    """``coerce_records`` one record at a time: what finds and counts the invalid ones."""
    schema = stampless_schema(DATASETS[dataset])
    rows, invalid_columns = [], []
    for record in records:
        try:
            row = validate_record(dataset, record)
        except InvalidValue as invalid:
            column = invalid.args[0] if invalid.args else "?"
            invalid_columns.append(column)
            logger.debug("Dropped a %s record of %s: invalid %s", dataset, record.get("ticker"), column)
        else:
            rows.append(tuple(row.get(column) for column in schema.names))
    return _table(schema, rows), invalid_columns
