"""Pages read straight into Arrow tables (``polygon/page_tables.py``) give the rows the record
by record reading gives: a plainly valid page is read by Arrow, any other is handed back (None)
and read record by record, which coerces and counts what is off."""

import json

import pytest

from screener_crawler.polygon.page_tables import (
    corporate_action_page,
    daily_bars_page,
    grouped_daily_page,
    v1_statement_page,
)
from screener_crawler.polygon.pages import PageReader, read_page
from screener_crawler.polygon.parsers import (
    corporate_action_page_rows,
    daily_bars_page_columns,
    grouped_daily_page_columns,
    v1_statement_page_rows,
)
from tests.recorded import FIXTURES

INCOME = json.loads((FIXTURES / "income_statements_stocks_financials_v1__openapi_example.json").read_text())
DAILY_BARS = json.loads((FIXTURES / "aggs_v2_range_1_day_AAPL_2005-04-01_2005-04-04__py_mock.json").read_text())
DIVIDENDS = json.loads((FIXTURES.parent / "corporate_actions/dividends_stocks_v1__openapi_example.json").read_text())
SPLITS = json.loads((FIXTURES.parent / "corporate_actions/splits_stocks_v1__openapi_example.json").read_text())
DIVIDENDS_V3 = json.loads((FIXTURES / "dividends_v3_reference_dividends__py_mock.json").read_text())
SPLITS_V3 = json.loads((FIXTURES / "splits_v3_reference_splits__py_mock.json").read_text())
GROUPED = json.loads((FIXTURES / "aggs_v2_grouped_daily_us_stocks_2005-04-04__py_mock.json").read_text())


def same_reading(rows, table, args, page):
    """(what Arrow read, or None) after checking that ``read_page`` with the Arrow reader
    gives what it gives without one."""
    body = json.dumps(page).encode()
    by_records = read_page(PageReader(rows, args), body)
    by_arrow = read_page(PageReader(rows, args, table), body)
    assert [(b.dataset, b.invalid_columns) for b in by_arrow.batches] == \
        [(b.dataset, b.invalid_columns) for b in by_records.batches]
    for arrow_batch, records_batch in zip(by_arrow.batches, by_records.batches):
        assert arrow_batch.table.equals(records_batch.table)
    assert (by_arrow.unknown_fields, by_arrow.next_url) == (by_records.unknown_fields, by_records.next_url)
    return table(body, *args)


def statements(*changes, next_url="https://api.polygon.io/next?cursor=x"):
    record = INCOME["results"][0]
    records = [{**record, "tickers": ["AAPL", "AAPL.W"], "fiscal_quarter": 1, "cik": "320193"},
               {**record, "tickers": ["MSFT"], "cik": "0000789019", "revenue": 1.5},
               {**record, "tickers": ["IBM"], "revenue": None},
               {**record, "tickers": None}]
    for position, change in changes:
        records[position] = {**records[position], **change}
    return {**INCOME, "results": records, "next_url": next_url}


STATEMENT_TICKERS = ("AAPL", "AAPL.W", "MSFT")


def test_a_valid_statements_page_is_read_by_arrow_as_record_by_record():
    read = same_reading(v1_statement_page_rows, v1_statement_page, ("income_statements", STATEMENT_TICKERS),
                        statements())
    assert read is not None
    [batch] = read.batches
    assert batch.table.select(["ticker", "cik", "source", "fiscal_quarter"]).to_pylist() == [
        {"ticker": "AAPL", "cik": "0000320193", "source": "v1", "fiscal_quarter": 1},
        {"ticker": "AAPL.W", "cik": "0000320193", "source": "v1", "fiscal_quarter": 1},
        {"ticker": "MSFT", "cik": "0000789019", "source": "v1", "fiscal_quarter": 3},
    ]
    assert read.next_url == "https://api.polygon.io/next?cursor=x"


@pytest.mark.parametrize("change", [
    (1, {"revenue": "lots"}),
    (1, {"fiscal_quarter": 3.0}),
    (0, {"period_end": "2025-6-28"}),
    (1, {"a_field_the_schema_does_not_know": 1}),
    (0, {"tickers": ["AAPL", "AAPL"]}),
    (1, {"cik": "٣٢٠١٩٣"}),
    (1, {"filing_date": None}),
    (1, {"tickers": "MSFT"}),
], ids=["string-value", "float-quarter", "short-date", "unknown-field", "ticker-twice", "non-ascii-cik",
        "no-filing-date", "tickers-not-a-list"])
def test_a_statements_page_that_is_not_plainly_valid_is_read_record_by_record(change):
    read = same_reading(v1_statement_page_rows, v1_statement_page, ("income_statements", STATEMENT_TICKERS),
                        statements(change))
    assert read is None


def test_a_page_that_is_not_json_is_left_to_the_record_reader():
    assert v1_statement_page(b'{"results": [', "income_statements", ("AAPL",)) is None
    assert read_page(PageReader(v1_statement_page_rows, ("income_statements", ("AAPL",)), v1_statement_page),
                     b'{"results": [') is None


def bars(*changes):
    bar = DAILY_BARS["results"][0]
    records = [{**bar, "t": bar["t"] + n * 86_400_000, "c": bar["c"] + n} for n in range(5)]
    for position, change in changes:
        records[position] = {**records[position], **change}
    return {**DAILY_BARS, "results": records}


def test_a_ticker_s_valid_daily_bars_are_read_by_arrow_as_record_by_record():
    read = same_reading(daily_bars_page_columns, daily_bars_page, ("AAPL",), bars((3, {"n": None, "vw": None})))
    assert read is not None and read.batches[0].table.num_rows == 5


@pytest.mark.parametrize("change", [(4, {"c": "not a price"}), (2, {"t": 1.1e12}), (1, {"t": None}),
                                    (0, {"n": 3.5})],
                         ids=["bad-close", "float-start", "no-start", "float-transactions"])
def test_daily_bars_not_plainly_valid_are_read_record_by_record(change):
    assert same_reading(daily_bars_page_columns, daily_bars_page, ("AAPL",), bars(change)) is None


def test_a_grouped_daily_page_is_read_by_arrow_keeping_the_crawl_s_tickers():
    bar = GROUPED["results"][0]
    page = {**GROUPED, "results": [bar, {**bar, "T": "AAPL", "c": 1.5, "otc": True}, {**bar, "T": "MSFT"},
                                   {**bar, "T": None}]}
    read = same_reading(grouped_daily_page_columns, grouped_daily_page, ("2005-04-04", frozenset({"AAPL", "MSFT"})),
                        page)
    assert read is not None
    assert read.batches[0].table.column("ticker").to_pylist() == ["AAPL", "MSFT"]


def test_an_empty_grouped_daily_page_gives_no_rows():
    page = {key: value for key, value in GROUPED.items() if key != "results"}
    read = same_reading(grouped_daily_page_columns, grouped_daily_page, ("2005-04-04", frozenset({"AAPL"})), page)
    assert read is not None and read.batches == []


def corporate_actions(page, *changes):
    record = page["results"][0]
    records = [{**record, "ticker": "AAPL"}, {**record, "ticker": "IBM", "id": "other"},
               {**record, "ticker": "MSFT", "id": "third"}, {**record, "ticker": None}]
    for position, change in changes:
        records[position] = {**records[position], **change}
    return {**page, "results": records, "next_url": "https://api.polygon.io/next?cursor=y"}


@pytest.mark.parametrize("dataset, page", [("dividends", DIVIDENDS), ("splits", SPLITS),
                                           ("dividends", DIVIDENDS_V3), ("splits", SPLITS_V3)],
                         ids=["dividends", "splits", "dividends-v3-shape", "splits-v3-shape"])
@pytest.mark.parametrize("source", ["v1", "v3"])
def test_a_valid_corporate_actions_page_is_read_by_arrow_keeping_the_batch_s_tickers(dataset, page, source):
    read = same_reading(corporate_action_page_rows, corporate_action_page, (dataset, source, ("AAPL", "MSFT")),
                        corporate_actions(page))
    assert read is not None
    assert read.batches[0].table.select(["ticker", "source"]).to_pylist() == [
        {"ticker": "AAPL", "source": source}, {"ticker": "MSFT", "source": source}]
    assert read.next_url == "https://api.polygon.io/next?cursor=y"


NOT_PLAIN = {
    "unknown-field": {"dividends": {"a_field_the_schema_does_not_know": 1},
                      "splits": {"a_field_the_schema_does_not_know": 1}},
    "number-id": {"dividends": {"id": 7}, "splits": {"id": 7}},
    "string-amount": {"dividends": {"cash_amount": "much"}, "splits": {"split_from": "many"}},
    "short-date": {"dividends": {"ex_dividend_date": "2024-1-2"}, "splits": {"execution_date": "2024-1-2"}},
}


@pytest.mark.parametrize("change", NOT_PLAIN)
@pytest.mark.parametrize("dataset, page", [("dividends", DIVIDENDS), ("splits", SPLITS)])
def test_corporate_actions_not_plainly_valid_are_read_record_by_record(dataset, page, change):
    assert same_reading(corporate_action_page_rows, corporate_action_page, (dataset, "v1", ("AAPL", "MSFT")),
                        corporate_actions(page, (2, NOT_PLAIN[change][dataset]))) is None
