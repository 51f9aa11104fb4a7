"""ValidationPipeline keeps items in order when a big batch is coerced in a thread, and coerces a
page a column at a time to what record-by-record coercion gives."""

import asyncio
import threading

import pytest
from scrapy.utils.test import get_crawler

from screener_crawler import coercion
from screener_crawler.items import RecordBatch, UnitsComplete
from screener_crawler.pipelines import validation
from screener_crawler.pipelines.validation import ValidationPipeline


def _related(n, ticker="AAPL"):
    return [{"ticker": ticker, "related_ticker": f"R{i}", "rank": i} for i in range(n)]


def test_a_marker_never_overtakes_a_batch_validated_in_a_thread(monkeypatch):
    crawler = get_crawler(settings_dict={})
    crawler.stats.open_spider()
    pipeline = ValidationPipeline(crawler.stats, thread_rows=100)
    threads = []
    coerce = validation.coerce_records

    def slow_coerce(dataset, records):
        threads.append(threading.current_thread())
        return coerce(dataset, records)

    monkeypatch.setattr(validation, "coerce_records", slow_coerce)
    left = []

    async def through(item):
        left.append(await pipeline.process_item(item))

    big = RecordBatch("related_tickers", _related(500))
    small = RecordBatch("related_tickers", _related(3, "MSFT"))
    marker = UnitsComplete((("related_tickers", "AAPL"),))

    async def main():
        await asyncio.gather(through(big), through(marker), through(small))

    asyncio.run(main())
    assert left == [big, marker, small]
    assert threads[0] is not threading.main_thread()
    assert threads[1] is threading.main_thread()
    assert big.table.num_rows == 500 and big.records == []


def _recorded_rows():
    """(dataset, records) parsed from recorded Polygon pages, as the spiders make them."""
    from screener_crawler.polygon import parsers
    from tests.recorded import recorded_json

    for dataset, page in (("balance_sheets", "balance_sheets"), ("income_statements", "income_statements"),
                          ("cash_flow", "cash_flow_statements")):
        results = recorded_json(f"{page}_stocks_financials_v1__openapi_example.json")["results"]
        yield dataset, [p.row for record in results for p in parsers.v1_statement_rows(dataset, record)]
    yield "dividends", [parsers.dividend_row(r, "v1").row
                        for r in recorded_json("dividends_stocks_v1__openapi_example.json")["results"]]
    yield "universe", [parsers.universe_row(r).row
                       for r in recorded_json("tickers_v3_reference_tickers__openapi_example.json")["results"]]
    yield "daily_prices", [parsers.daily_bar_row(bar, bar["T"], True).row for bar in
                           recorded_json("aggs_v2_grouped_daily_us_stocks_2005-04-04__py_mock.json")["results"]]


@pytest.mark.parametrize("dataset, records", list(_recorded_rows()), ids=lambda v: v if isinstance(v, str) else "")
def test_a_valid_page_is_coerced_a_column_at_a_time_to_what_record_by_record_gives(dataset, records):
    assert records
    columnar = coercion._all_valid_table(dataset, records)
    assert columnar is not None, "a valid recorded page should not need the record-by-record path"
    table, invalid = coercion.coerce_record_by_record(dataset, records)
    assert invalid == []
    assert columnar.equals(table)
    assert coercion.coerce_records(dataset, records) == (table, [])


def _bar(**values):
    return {"ticker": "AAPL", "date": "2024-01-02", "open": 1.0, "close": 2, "volume": 10.0,
            "transactions": 3, "adjusted": True, **values}


@pytest.mark.parametrize("odd", [
    {"open": True},                # Arrow alone would make it 1.0
    {"transactions": 1.5},         # Arrow alone would make it 1
    {"transactions": 2.0},         # valid: an integral float is an int
    {"close": float("nan")},
    {"volume": 2 ** 70},           # valid: too big for int64, still a float
    {"adjusted": 1},
    {"date": "20240103"},          # valid: ISO basic format
    {"date": "2024-02-30"},
    {"date": "0000-01-01"},        # Arrow reads it, Python cannot
    {"date": None},                # required
    {"ticker": 7},
])
def test_a_page_with_an_odd_value_gives_what_record_by_record_gives(odd):
    records = [_bar(), _bar(**{"date": "2024-01-03", **odd}), _bar(date="2024-01-04")]
    expected_table, expected_invalid = coercion.coerce_record_by_record("daily_prices", records)
    table, invalid = coercion.coerce_records("daily_prices", records)
    assert invalid == expected_invalid
    assert table.equals(expected_table)
    assert table.num_rows == 3 - len(invalid)
