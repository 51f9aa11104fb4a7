"""The ratio pass over published data gives, value for value, the ratios the per-ticker
computation of the v1 layout wrote for the same inputs (``tests/fixtures/ratio_equality``), for
every ticker without a split: for those with one, share counts are now on the split basis of
each row's filing date and per-share ratios on the latest split's basis (issue 32), which the
recorded rows predate (see ``test_ratio_plausibility`` for the split conventions)."""

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from screener_crawler.datasets import DATASETS
from screener_crawler.ratios.inputs import _day_numbers, _filing_keys, _keys
from screener_crawler.ratios.latest import read_latest
from screener_crawler.ratios.ratio_pass import RatioPass
from screener_crawler.storage.layout import published_partitions
from screener_crawler.storage.publishing import publish
from screener_crawler.storage.staging import StagingArea
from screener_crawler.storage.tables import stamped

FIXTURE = Path(__file__).parent / "fixtures" / "ratio_equality"
BALANCE = DATASETS["balance_sheets"]
INPUTS = ("balance_sheets", "income_statements", "cash_flow", "daily_prices", "splits")
NOW = datetime(2026, 12, 6, tzinfo=timezone.utc)
KEY = [("ticker", "ascending"), ("timeframe", "ascending"), ("period_end", "ascending"),
       ("filing_date", "ascending")]


def in_schema(dataset, table):
    columns = [table.column(f.name).cast(f.type) if f.name in table.schema.names else pa.nulls(table.num_rows, f.type)
               for f in DATASETS[dataset].schema if f.name != "downloaded_at"]
    names = [f.name for f in DATASETS[dataset].schema if f.name != "downloaded_at"]
    return pa.Table.from_arrays(columns, names=names)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("v2")
    area = StagingArea(root)
    for dataset in INPUTS:
        table = in_schema(dataset, pq.read_table(FIXTURE / f"{dataset}.parquet"))
        area.stage(DATASETS[dataset], stamped(DATASETS[dataset], table, NOW), table.column("ticker").unique().to_pylist())
    publish(root)
    return root


def expected_ratios():
    return pq.read_table(FIXTURE / "financial_ratios.parquet")


@pytest.mark.parametrize("chunk_tickers", [5, 100])
def test_the_ratio_pass_equals_the_recorded_per_ticker_ratios(published, chunk_tickers, tmp_path):
    expected = expected_ratios()
    tickers = sorted(set(expected.column("ticker").to_pylist()))
    ratio_pass = RatioPass(published, tickers, chunk_tickers)
    for chunk in ratio_pass.chunks():
        result = ratio_pass.stage_chunk(chunk)
        assert not result.failed
    publish(published)
    written = ds.dataset(published / "financial_ratios", partitioning="hive").to_table()
    written = written.select(expected.schema.names).sort_by(KEY)
    assert written.num_rows == expected.num_rows > 1000
    unsplit = pc.invert(pc.is_in(expected.column("ticker"), value_set=tickers_with_splits()))
    written_unsplit = written.filter(pc.invert(pc.is_in(written.column("ticker"), value_set=tickers_with_splits())))
    assert written_unsplit.num_rows > 500
    # prepaid expenses are a vX-only line: on these v1 rows the acid test is now unknown, not (CA - INV) / CL
    assert written_unsplit.column("acid_test_ratio").null_count == written_unsplit.num_rows
    expected_unsplit = expected.filter(unsplit).sort_by(KEY).cast(written.schema)
    acid_test = written.schema.get_field_index("acid_test_ratio")
    assert written_unsplit.remove_column(acid_test).equals(expected_unsplit.remove_column(acid_test))


def tickers_with_splits():
    return pq.read_table(FIXTURE / "splits.parquet").column("ticker").unique()


def test_the_cross_section_holds_each_tickers_latest_row_per_timeframe(published):
    expected = expected_ratios().to_pandas()
    tickers = sorted(set(expected["ticker"]))
    ratio_pass = RatioPass(published, tickers, 4)
    for chunk in ratio_pass.chunks():
        ratio_pass.stage_chunk(chunk)
    publish(published)
    latest = read_latest(published).to_pandas()
    assert len(latest) == expected.groupby(["ticker", "timeframe"]).ngroups
    newest = (expected.sort_values(["ticker", "timeframe", "period_end", "filing_date"])
              .groupby(["ticker", "timeframe"]).tail(1).set_index(["ticker", "timeframe"]))
    for row in latest.itertuples():
        assert row.period_end == newest.loc[(row.ticker, row.timeframe), "period_end"]


def test_a_ticker_whose_computation_fails_fails_alone(published, monkeypatch):
    from screener_crawler.ratios import ratio_pass as module
    real = module.compute_many

    def fail_for_msft(statements, prices=None, splits=None):
        if "MSFT" in set(statements["income_statements"]["ticker"]):
            raise ValueError("broken statement")
        return real(statements, prices, splits)

    monkeypatch.setattr(module, "compute_many", fail_for_msft)
    ratio_pass = RatioPass(published, ["AAPL", "GE", "MSFT", "R"], 4)
    result = ratio_pass.stage_chunk(ratio_pass.tickers)
    assert set(result.failed) == {"MSFT"} and set(result.rows) == {"AAPL", "GE", "R"}
    StagingArea(published).remove(StagingArea(published).files())


def test_the_statements_are_read_once_whatever_the_number_of_ticker_groups(published, monkeypatch):
    """Each statement partition is decoded once for the whole pass and its rows regrouped by
    ticker group; every group then gets exactly the rows a direct read of its tickers gives."""
    from screener_crawler.polygon.fields import STATEMENTS
    from screener_crawler.ratios import inputs
    from screener_crawler.storage.layout import published_partitions

    tickers = sorted(set(expected_ratios().column("ticker").to_pylist()))
    reads = []
    real_read = inputs.pq.read_table
    monkeypatch.setattr(inputs.pq, "read_table", lambda path, **options: reads.append(path) or real_read(path, **options))
    groups = [tickers[start:start + 2] for start in range(0, len(tickers), 2)]
    assert len(groups) > 3
    regrouped = inputs.RegroupedStatements(published, groups)
    partitions = [path for dataset in STATEMENTS for path in published_partitions(published, DATASETS[dataset]).values()]
    assert sorted(map(str, reads)) == sorted(map(str, partitions))
    for group in groups:
        rows = regrouped.rows_of(group)
        for dataset in STATEMENTS:
            direct = inputs.read_rows(published, dataset, group, inputs.statement_columns(dataset))
            assert rows[dataset].sort_by(KEY).equals(direct.sort_by(KEY))
    assert not list((published / "_staging").glob(".ratio-inputs.*"))


def test_a_pass_closed_early_leaves_no_regrouped_files(published):
    """A pass stopped early deletes what it regrouped; a killed one leaves temporaries, which
    the next crawl's start removes with every other temporary file (``remove_temporaries``)."""
    from screener_crawler.storage.atomic import is_temporary

    tickers = sorted(set(expected_ratios().column("ticker").to_pylist()))
    ratio_pass = RatioPass(published, tickers, 1)
    first = next(iter(ratio_pass.chunks()))
    ratio_pass.stage_chunk(first)
    left = list((published / "_staging").glob(".ratio-inputs.*"))
    assert left and all(is_temporary(path.name) for path in left)
    ratio_pass.close()
    assert not list((published / "_staging").glob(".ratio-inputs.*"))
    StagingArea(published).remove(StagingArea(published).files())


@pytest.mark.parametrize("statistics", [True, False], ids=["with-statistics", "without-statistics"])
def test_the_filing_keys_of_some_tickers_are_read_from_the_row_groups_of_their_range(tmp_path, monkeypatch,
                                                                                     statistics):
    filings = in_schema("balance_sheets", pq.read_table(FIXTURE / "balance_sheets.parquet"))
    tickers = sorted(set(filings.column("ticker").to_pylist()))
    assert len(tickers) >= 6
    StagingArea(tmp_path).stage(BALANCE, stamped(BALANCE, filings, NOW), tickers)
    publish(tmp_path)
    files = list(published_partitions(tmp_path, BALANCE).values())
    for path in files:
        pq.write_table(pq.read_table(path), path, row_group_size=2, write_statistics=statistics)
    all_groups = sum(pq.ParquetFile(path).metadata.num_row_groups for path in files)
    groups_read = []
    read_row_groups = pq.ParquetFile.read_row_groups

    def counted(self, groups, **options):
        groups_read.append(len(groups))
        return read_row_groups(self, groups, **options)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", counted)
    some = pa.array(tickers[2:4])

    keys = _filing_keys(tmp_path, some)

    assert sum(groups_read) == all_groups if not statistics else 0 < sum(groups_read) < all_groups
    theirs = filings.filter(pc.is_in(filings.column("ticker"), some))
    expected = _keys(pc.index_in(theirs.column("ticker"), value_set=some).to_numpy(),
                     _day_numbers(theirs.column("filing_date")))
    assert keys.tolist() == sorted(set(expected.tolist()))
