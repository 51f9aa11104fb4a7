"""The fundamentals spider's parsing, on real recorded v1 and vX responses."""

import json
from datetime import datetime, timezone

import pytest
from scrapy.http import Request, TextResponse

from screener_crawler.coercion import validate_record
from screener_crawler.items import RecordBatch, UnitsComplete
from screener_crawler.spiders.fundamentals import FundamentalsSpider
from tests.recorded import BASE, open_spider, records_of as records, recorded_json, recorded_response


@pytest.fixture
def spider():
    return open_spider(FundamentalsSpider, settings={"POLYGON_TICKERS_PER_REQUEST": 100}, tickers="AAPL,MSFT")


def parse(spider, callback, fixture, meta):
    return list(callback(recorded_response(fixture, meta=meta)))


def v1_meta(spider, dataset, tickers=("AAPL", "MSFT")):
    """The meta of the spider's own v1 request for ``tickers``, page reader included."""
    [request] = spider.requests({dataset: list(tickers)})
    return request.meta


def v1_items(spider, fixture, dataset):
    return parse(spider, spider.parse_read_page, fixture, v1_meta(spider, dataset))


def vx_items(spider, fixture, timeframes=("quarterly", "annual", "ttm")):
    meta = {"polygon_units": tuple((d, "SITE") for d in ("balance_sheets", "income_statements", "cash_flow")),
            "polygon_timeframes": timeframes}
    return parse(spider, spider.parse_vx_financials, fixture, meta)


@pytest.mark.parametrize("fixture, dataset", [
    ("balance_sheets_stocks_financials_v1__openapi_example.json", "balance_sheets"),
    ("income_statements_stocks_financials_v1__openapi_example.json", "income_statements"),
    ("cash_flow_statements_stocks_financials_v1__openapi_example.json", "cash_flow"),
])
def test_v1_statement_becomes_one_record_of_its_dataset_per_requested_ticker(spider, fixture, dataset):
    output = v1_items(spider, fixture, dataset)
    assert [batch.dataset for batch in output if isinstance(batch, RecordBatch)] == [dataset]
    items = records(output)
    assert len(items) == 1 and items[0]["ticker"] == "AAPL"


@pytest.mark.parametrize("fixture, dataset", [
    ("balance_sheets_stocks_financials_v1__openapi_example.json", "balance_sheets"),
    ("income_statements_stocks_financials_v1__openapi_example.json", "income_statements"),
    ("cash_flow_statements_stocks_financials_v1__openapi_example.json", "cash_flow"),
])
def test_v1_statement_keeps_every_line_item_of_the_response(spider, fixture, dataset):
    served = recorded_json(fixture)["results"][0]
    item = records(v1_items(spider, fixture, dataset))[0]
    identity = {"cik", "tickers", "period_end", "filing_date", "fiscal_year", "fiscal_quarter", "timeframe"}
    for key, value in served.items():
        if key not in identity:
            assert item[key] == value, key


def test_v1_balance_sheet_values_and_identity(spider):
    item = records(v1_items(spider, "balance_sheets_stocks_financials_v1__openapi_example.json", "balance_sheets"))[0]
    row = validate_record("balance_sheets", dict(item))
    assert row["total_assets"] == 331495000000.0
    assert row["period_end"].isoformat() == "2025-06-28"
    assert row["filing_date"].isoformat() == "2025-08-01"
    assert (row["fiscal_year"], row["fiscal_quarter"], row["timeframe"]) == (2025, 3, "quarterly")
    assert row["cik"] == "0000320193"
    assert row["source"] == "v1"


def test_v1_last_page_completes_every_unit_of_the_batch(spider):
    items = v1_items(spider, "income_statements_stocks_financials_v1__openapi_example.json", "income_statements")
    done = [i.units for i in items if isinstance(i, UnitsComplete)]
    assert done == [(("income_statements", "AAPL"), ("income_statements", "MSFT"))]


def test_v1_rows_of_tickers_not_requested_are_left_out(spider):
    meta = v1_meta(spider, "balance_sheets", ["MSFT"])
    items = parse(spider, spider.parse_read_page,
                  "balance_sheets_stocks_financials_v1__openapi_example.json", meta)
    assert records(items) == []
    assert items == [UnitsComplete((("balance_sheets", "MSFT"),))]


def test_vx_filing_feeds_all_three_statement_datasets(spider):
    items = vx_items(spider, "financials_vX_reference_financials__openapi_example.json")
    assert {dataset: len(records(items, dataset)) for dataset in ("balance_sheets", "income_statements", "cash_flow")} \
        == {"balance_sheets": 1, "income_statements": 1, "cash_flow": 1}
    assert len(records(items)) == 3


def test_vx_concepts_map_onto_v1_columns(spider):
    served = recorded_json("financials_vX_reference_financials__openapi_example.json")["results"][0]["financials"]
    output = vx_items(spider, "financials_vX_reference_financials__openapi_example.json")
    items = {dataset: records(output, dataset)[0] for dataset in ("balance_sheets", "income_statements", "cash_flow")}
    assert items["balance_sheets"]["total_assets"] == served["balance_sheet"]["assets"]["value"]
    assert items["balance_sheets"]["noncontrolling_interest"] == \
        served["balance_sheet"]["equity_attributable_to_noncontrolling_interest"]["value"]
    assert items["income_statements"]["revenue"] == served["income_statement"]["revenues"]["value"]
    assert items["income_statements"]["basic_earnings_per_share"] == 0.72
    assert items["cash_flow"]["net_cash_from_operating_activities"] == \
        served["cash_flow_statement"]["net_cash_flow_from_operating_activities"]["value"]


def test_vx_concept_without_v1_twin_keeps_its_own_column(spider):
    served = recorded_json("financials_vX_reference_financials__openapi_example.json")["results"][0]["financials"]
    output = vx_items(spider, "financials_vX_reference_financials__openapi_example.json")
    items = {dataset: records(output, dataset)[0] for dataset in ("balance_sheets", "income_statements", "cash_flow")}
    assert items["balance_sheets"]["noncurrent_assets"] == served["balance_sheet"]["noncurrent_assets"]["value"]
    assert items["income_statements"]["comprehensive_income_loss"] == \
        served["comprehensive_income"]["comprehensive_income_loss"]["value"]


def test_vx_identity_fields_are_normalised(spider):
    item = records(vx_items(spider, "financials_vX_reference_financials__py_mock.json"), "balance_sheets")[0]
    row = validate_record("balance_sheets", item)
    assert row["fiscal_year"] == 2022 and row["fiscal_quarter"] == 1
    assert row["period_start"].isoformat() == "2022-01-01"
    assert row["period_end"].isoformat() == "2022-04-03"
    assert row["source"] == "vX"
    assert row["source_filing_url"].endswith("0001413447-22-000014")


def test_vx_rows_keep_the_filings_source_as_the_api_gave_it(spider):
    served = recorded_json("financials_vX_reference_financials__py_mock.json")["results"][0]
    output = vx_items(spider, "financials_vX_reference_financials__py_mock.json")
    for dataset in ("balance_sheets", "income_statements", "cash_flow"):
        [row] = [validate_record(dataset, item) for item in records(output, dataset)]
        assert row["fiscal_period"] == served["fiscal_period"] == "Q1"
        assert row["source_filing_url"] == served["source_filing_url"]
        assert row["source_filing_file_url"] == served["source_filing_file_url"]
        assert row["sic"] is None and row["acceptance_datetime"] is None  # not in this recording


def test_vx_sic_and_edgar_acceptance_time_are_kept_the_acceptance_in_utc():
    """API.md §5.2: vX records carry ``sic`` and ``acceptance_datetime`` (EDGAR's US/Eastern
    ``YYYYMMDDHHMMSS``); the recording predates them, so they are added to it here."""
    from screener_crawler.polygon.parsers import vx_financials_rows
    record = {**recorded_json("financials_vX_reference_financials__py_mock.json")["results"][0],
              "sic": "3674", "acceptance_datetime": "20220503163015"}
    [balance, *_] = vx_financials_rows(record, "NXPI", "quarterly")
    row = validate_record("balance_sheets", balance.row)
    assert row["sic"] == "3674"
    assert row["acceptance_datetime"].astimezone(timezone.utc) == datetime(2022, 5, 3, 20, 30, 15, tzinfo=timezone.utc)
    winter = vx_financials_rows({**record, "acceptance_datetime": "20220203163015"}, "NXPI", "quarterly")[0]
    assert validate_record("balance_sheets", winter.row)["acceptance_datetime"].astimezone(timezone.utc).hour == 21


def test_v1_rows_have_no_source_filing_fields(spider):
    [item, *_] = records(v1_items(spider, "balance_sheets_stocks_financials_v1__openapi_example.json", "balance_sheets"))
    row = validate_record("balance_sheets", dict(item))
    assert all(row.get(column) is None for column in
               ("fiscal_period", "sic", "source_filing_url", "source_filing_file_url", "acceptance_datetime"))


def test_vx_record_without_timeframe_takes_the_requested_one(spider):
    assert "timeframe" not in recorded_json("financials_vX_reference_financials__py_mock.json")["results"][0]
    items = records(vx_items(spider, "financials_vX_reference_financials__py_mock.json", timeframes=("ttm",)))
    assert {item["timeframe"] for item in items} == {"trailing_twelve_months"}


def test_vx_record_without_timeframe_or_filter_falls_back_to_fiscal_period():
    from screener_crawler.polygon.parsers import vx_timeframe
    record = recorded_json("financials_vX_reference_financials__py_mock.json")["results"][0]
    assert vx_timeframe(record) == "quarterly"
    assert vx_timeframe({**record, "fiscal_period": "FY"}) == "annual"


def test_vx_unknown_concept_is_left_out_and_counted(spider):
    balance = records(vx_items(spider, "financials_vX_unknown_concept__derived.json"), "balance_sheets")[0]
    assert "other_than_fixed_noncurrent_assets" not in balance
    assert validate_record("balance_sheets", dict(balance))["total_assets"] == 2407400000.0
    stats = spider.crawler.stats.get_stats()
    assert stats["parser/unknown_field/balance_sheets/balance_sheet.other_than_fixed_noncurrent_assets"] == 1


def test_vx_chain_moves_to_the_next_timeframe_then_completes(spider):
    items = vx_items(spider, "financials_vX_reference_financials__py_mock.json", timeframes=("annual", "ttm"))
    follow = [i for i in items if hasattr(i, "url")]
    assert len(follow) == 1 and "timeframe=ttm" in follow[0].url and "ticker=SITE" in follow[0].url
    last = vx_items(spider, "financials_vX_reference_financials__py_mock.json", timeframes=("ttm",))
    [complete] = [i for i in last if isinstance(i, UnitsComplete)]
    assert sorted(dataset for dataset, _ in complete.units) == ["balance_sheets", "cash_flow", "income_statements"]


def test_next_url_is_followed_on_the_configured_host_without_key(spider):
    meta = {"polygon_units": (("balance_sheets", "SITE"),), "polygon_timeframes": ("quarterly",)}
    items = parse(spider, spider.parse_vx_financials, "financials_vX_reference_financials__openapi_example.json", meta)
    follow = [i for i in items if hasattr(i, "url")]
    assert follow and follow[0].url.startswith(BASE + "/vX/reference/financials")
    assert not any(isinstance(i, UnitsComplete) for i in items)


def test_record_with_wrong_type_is_rejected():
    from screener_crawler.coercion import InvalidValue
    served = recorded_json("balance_sheets_stocks_financials_v1__openapi_example.json")["results"][0]
    from screener_crawler.polygon.parsers import v1_statement_rows
    row = v1_statement_rows("balance_sheets", {**served, "total_assets": "a lot"})[0].row
    with pytest.raises(InvalidValue, match="total_assets"):
        validate_record("balance_sheets", row)


def test_a_page_of_many_filings_travels_as_one_batch_per_dataset(spider):
    page = recorded_json("balance_sheets_stocks_financials_v1__openapi_example.json")
    filing = page["results"][0]
    page["results"] = [dict(filing, period_end=f"20{year}-12-31", tickers=["AAPL", "MSFT"]) for year in range(10, 20)]
    request = Request(f"{BASE}/stocks/financials/v1/balance-sheets", meta=v1_meta(spider, "balance_sheets"))
    response = TextResponse(request.url, body=json.dumps(page).encode(), encoding="utf-8", request=request)
    items = list(spider.parse_read_page(response))
    batches = [item for item in items if isinstance(item, RecordBatch)]
    assert len(batches) == 1
    assert batches[0].table.num_rows == 20
