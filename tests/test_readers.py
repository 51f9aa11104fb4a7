"""Every stored dataset, written in the v2 layout (staged, then published), is read without a
schema error by pyarrow, polars and DuckDB with Hive partitioning, and they agree on the rows
(DESIGN §3, "Reading")."""

from datetime import date, datetime, timezone

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from screener_crawler.datasets import DOWNLOADED_AT, STORED_DATASETS
from screener_crawler.storage.publishing import publish
from screener_crawler.storage.staging import WHOLE_TABLE, StagingArea
from screener_crawler.storage.tables import records_table, stamped

NOW = datetime(2026, 1, 2, tzinfo=timezone.utc)
DAYS = (date(2024, 5, 2), date(2024, 7, 15))
"""Each row's dates: the rows of a dataset with a partition date fall in two partitions."""


def value(field, row):
    """A value of ``field``'s type for row ``row`` (0 or 1)."""
    kind = field.type
    if field.name == "ticker":
        return ("AAPL", "MSFT")[row]
    if pa.types.is_string(kind):
        return f"{field.name}-{row}"
    if pa.types.is_date32(kind):
        return DAYS[row]
    if pa.types.is_timestamp(kind):
        return datetime(2024, 5, 2, 13, 30, tzinfo=timezone.utc)
    if pa.types.is_float64(kind):
        return 1.5 + row
    if pa.types.is_int64(kind):
        return 2 + row
    if pa.types.is_boolean(kind):
        return bool(row)
    if pa.types.is_list(kind) and pa.types.is_string(kind.value_type):
        return ["AAPL", f"X{row}"]
    raise AssertionError(f"no test value for {field}: declare one here")


def records(dataset):
    """Two rows: the first with every column set, the second with only the required ones (the
    others null). For a dataset with a partition date they land in two files, the second with
    columns of nulls only: the case a schema inferred per file would type differently."""
    fields = [field for field in dataset.schema if field.name != DOWNLOADED_AT.name]
    full = {field.name: value(field, 0) for field in fields}
    sparse = {field.name: value(field, 1) for field in fields
              if field.name in dataset.required or not field.nullable}
    return [full, sparse]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("readers")
    area = StagingArea(root)
    for dataset in STORED_DATASETS.values():
        table = stamped(dataset, records_table(dataset, records(dataset)), NOW)
        area.stage(dataset, table, WHOLE_TABLE if not dataset.per_ticker else ["AAPL", "MSFT"])
    publish(root)
    return root


def pattern(root, name):
    depth = "/*/*" if STORED_DATASETS[name].partition_date else ""
    return f"{root / name}{depth}/*.parquet"


def test_every_dataset_is_written_in_the_v2_layout(root):
    for name, dataset in STORED_DATASETS.items():
        files = sorted(p.relative_to(root / name).as_posix() for p in (root / name).rglob("*.parquet"))
        if dataset.partition_date:
            assert files == ["year=2024/month=05/part-0.parquet", "year=2024/month=07/part-0.parquet"], name
        else:
            assert files == ["universe.parquet" if name == "universe" else "part-0.parquet"], name


@pytest.mark.parametrize("name", STORED_DATASETS)
def test_pyarrow_polars_and_duckdb_read_every_dataset_alike(root, name):
    import duckdb
    import polars as pl

    dataset = STORED_DATASETS[name]
    partitions = ["year", "month"] if dataset.partition_date else []

    table = ds.dataset(root / name, partitioning="hive").to_table()
    assert table.num_rows == 2
    assert table.schema.names == [*dataset.schema.names, *partitions]
    assert [table.schema.field(f.name).type for f in dataset.schema] == dataset.schema.types
    assert sorted(table.column("ticker").to_pylist()) == ["AAPL", "MSFT"]

    frame = pl.scan_parquet(pattern(root, name), hive_partitioning=True).collect()
    assert frame.height == table.num_rows
    assert frame.columns == [*dataset.schema.names, *partitions]
    assert sorted(frame["ticker"].to_list()) == ["AAPL", "MSFT"]

    relation = duckdb.sql(f"SELECT * FROM read_parquet('{pattern(root, name)}', hive_partitioning = true)")
    names = len(dataset.schema.names)
    assert relation.columns[:names] == dataset.schema.names
    assert sorted(relation.columns[names:]) == sorted(partitions)  # DuckDB orders them by name
    assert duckdb.sql(f"SELECT count(*), count(DISTINCT ticker) FROM read_parquet("
                      f"'{pattern(root, name)}', hive_partitioning = true)").fetchall() == [(table.num_rows, 2)]

    if partitions:
        months = sorted(zip(table.column("year").to_pylist(), table.column("month").to_pylist()))
        assert months == [(2024, 5), (2024, 7)]
        assert sorted(zip(frame["year"].to_list(), frame["month"].to_list())) == months
        # DuckDB infers the zero-padded month=05 as VARCHAR '05'; with hive_types it is an integer
        typed = duckdb.sql(f"SELECT year, month FROM read_parquet('{pattern(root, name)}', hive_partitioning = true, "
                           "hive_types = {'year': INTEGER, 'month': INTEGER})")
        assert sorted(typed.fetchall()) == months


@pytest.mark.parametrize("name", STORED_DATASETS)
def test_the_three_readers_see_the_same_values(root, name):
    import duckdb
    import polars as pl

    columns = STORED_DATASETS[name].schema.names
    expected = sorted(ds.dataset(root / name, partitioning="hive").to_table(columns=columns).to_pylist(),
                      key=lambda row: row["ticker"])
    from_polars = sorted(pl.scan_parquet(pattern(root, name), hive_partitioning=True).select(columns)
                         .collect().to_dicts(), key=lambda row: row["ticker"])
    from_duckdb = duckdb.sql(f"SELECT {', '.join(map(quoted, columns))} FROM read_parquet("
                             f"'{pattern(root, name)}', hive_partitioning = true) ORDER BY ticker").arrow()
    from_duckdb = from_duckdb.read_all() if hasattr(from_duckdb, "read_all") else from_duckdb
    assert from_polars == expected
    assert from_duckdb.to_pylist() == expected


def quoted(column):
    return '"' + column.replace('"', '""') + '"'
