"""The corporate actions spider on recorded responses: v1 dividends and splits listed for a batch
of tickers, their v3 per-ticker fallback when the plan lacks v1, and ticker events per ticker
(real recordings: the official OpenAPI examples and the Python client's mocks)."""

import pytest

from screener_crawler.items import RecordBatch, UnitsComplete
from screener_crawler.polygon.pages import PAGE_READER
from screener_crawler.spiders.corporate_actions import CorporateActionsSpider, corporate_action_reader
from tests.recorded import feed, fixture_json, open_spider, path_and_query, records_of, served_records

V1 = {"dividends": ("corporate_actions/dividends_stocks_v1__openapi_example.json",
                    "/stocks/v1/dividends", "ex_dividend_date.asc"),
      "splits": ("corporate_actions/splits_stocks_v1__openapi_example.json",
                 "/stocks/v1/splits", "execution_date.asc")}
V3 = {"dividends": ("corporate_actions/dividends_v3_reference_dividends__openapi_example.json",
                    "/v3/reference/dividends", "ex_dividend_date"),
      "splits": ("corporate_actions/splits_v3_reference_splits__openapi_example.json",
                 "/v3/reference/splits", "execution_date")}
TICKER_EVENTS = "corporate_actions/ticker_events_vX_META_types_ticker_change__py_mock.json"


@pytest.fixture
def spider(tmp_path):
    return open_spider(CorporateActionsSpider, tmp_path, {"POLYGON_CORPORATE_ACTION_TICKERS_PER_REQUEST": 2},
                       tickers="AAPL,MSFT,NVDA")


def v1_requests(spider, dataset, tickers=("AAPL", "MSFT", "NVDA")):
    return list(spider.requests({dataset: list(tickers)}))


@pytest.mark.parametrize("dataset", V1)
def test_v1_listing_asks_for_a_batch_of_tickers_per_request(spider, dataset):
    _, path, sort = V1[dataset]
    requests = v1_requests(spider, dataset)
    assert [path_and_query(request) for request in requests] == [
        (path, {"ticker.any_of": "AAPL,MSFT", "limit": "5000", "sort": sort}),
        (path, {"ticker.any_of": "NVDA", "limit": "5000", "sort": sort})]
    assert [request.meta["polygon_units"] for request in requests] == [
        ((dataset, "AAPL"), (dataset, "MSFT")), ((dataset, "NVDA"),)]
    assert {request.meta["polygon_endpoint"] for request in requests} == {f"{dataset}_v1"}
    assert [request.meta[PAGE_READER] for request in requests] == [
        corporate_action_reader(dataset, "v1", ("AAPL", "MSFT")), corporate_action_reader(dataset, "v1", ("NVDA",))]
    assert all(request.callback == spider.parse_read_page and request.errback == spider.listing_failed
               for request in requests)


@pytest.mark.parametrize("dataset", V1)
def test_v1_last_page_becomes_the_batchs_rows_then_completes_every_unit_of_the_batch(spider, dataset):
    fixture = V1[dataset][0]
    batch, complete = feed(v1_requests(spider, dataset)[0], fixture)
    assert isinstance(batch, RecordBatch) and batch.dataset == dataset
    assert records_of([batch]) == served_records(fixture, dataset, source="v1")
    assert [row["ticker"] for row in records_of([batch])] == ["AAPL"]
    assert complete == UnitsComplete(((dataset, "AAPL"), (dataset, "MSFT")))
    assert not [key for key in spider.crawler.stats.get_stats() if key.startswith("parser/unknown_field/")]


@pytest.mark.parametrize("dataset", V1)
def test_v1_rows_of_tickers_outside_the_batch_are_left_out(spider, dataset):
    [request] = v1_requests(spider, dataset, ["MSFT"])
    assert feed(request, V1[dataset][0]) == [UnitsComplete(((dataset, "MSFT"),))]


@pytest.mark.parametrize("dataset", V1)
def test_without_v1_each_ticker_of_the_batch_is_listed_on_v3(spider, dataset):
    _, path, sort = V3[dataset]
    fallback = list(spider.plan_not_entitled(v1_requests(spider, dataset)[0]))
    assert [path_and_query(request) for request in fallback] == [
        (path, {"ticker": ticker, "limit": "1000", "sort": sort, "order": "asc"}) for ticker in ("AAPL", "MSFT")]
    assert [request.meta["polygon_units"] for request in fallback] == [((dataset, "AAPL"),), ((dataset, "MSFT"),)]
    assert [request.meta[PAGE_READER] for request in fallback] == [
        corporate_action_reader(dataset, "v3", (ticker,)) for ticker in ("AAPL", "MSFT")]
    assert all(request.dont_filter and request.callback == spider.parse_read_page for request in fallback)


@pytest.mark.parametrize("dataset", V3)
def test_v3_page_becomes_rows_marked_v3_then_its_next_url_is_followed_on_the_configured_host(spider, dataset):
    fixture = V3[dataset][0]
    aapl_request = next(iter(spider.plan_not_entitled(v1_requests(spider, dataset)[0])))
    batch, next_page = feed(aapl_request, fixture)
    assert records_of([batch]) == served_records(fixture, dataset, source="v3")
    served_next = fixture_json(fixture)["next_url"]
    path, query = path_and_query(next_page)
    assert served_next.startswith("https://api.massive.com" + path)
    assert query == {"cursor": served_next.split("cursor=")[1]}
    assert next_page.meta["polygon_units"] == ((dataset, "AAPL"),)
    assert next_page.meta[PAGE_READER] == corporate_action_reader(dataset, "v3", ("AAPL",))


def test_ticker_events_are_asked_per_ticker_for_ticker_changes(spider):
    requests = list(spider.requests({"ticker_events": ["AAPL", "META"]}))
    assert [path_and_query(request) for request in requests] == [
        ("/vX/reference/tickers/AAPL/events", {"types": "ticker_change"}),
        ("/vX/reference/tickers/META/events", {"types": "ticker_change"})]
    assert [request.meta["polygon_units"] for request in requests] == [
        (("ticker_events", "AAPL"),), (("ticker_events", "META"),)]
    assert all(request.meta["polygon_404_is_empty"] and request.callback == spider.parse_ticker_events
               for request in requests)


def test_ticker_events_answer_becomes_one_row_per_event_then_completes_the_ticker(spider):
    [request] = spider.requests({"ticker_events": ["META"]})
    batch, complete = feed(request, TICKER_EVENTS)
    served = fixture_json(TICKER_EVENTS)["results"]
    identity = {"ticker": "META", "name": served["name"], "composite_figi": served["composite_figi"],
                "cik": served["cik"]}
    assert records_of([batch], "ticker_events") == [
        {**identity, "date": "2022-06-11", "event_type": "ticker_change", "new_ticker": "META"},
        {**identity, "date": "2012-05-18", "event_type": "ticker_change", "new_ticker": "FB"}]
    assert complete == UnitsComplete((("ticker_events", "META"),))
