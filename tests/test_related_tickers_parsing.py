"""The related tickers spider on the recorded ``/v1/related-companies/{ticker}`` answer (the
official OpenAPI example)."""

import pytest

from screener_crawler.items import RecordBatch, UnitsComplete
from screener_crawler.spiders.related_tickers import RelatedTickersSpider
from tests.recorded import feed, fixture_json, open_spider, path_and_query, records_of

RELATED = "related_tickers/related_companies_v1__openapi_example.json"


@pytest.fixture
def spider(tmp_path):
    return open_spider(RelatedTickersSpider, tmp_path, tickers="AAPL,MSFT")


def test_related_companies_are_asked_once_per_ticker_a_404_meaning_none(spider):
    requests = list(spider.requests({"related_tickers": ["AAPL", "MSFT"]}))
    assert [path_and_query(request) for request in requests] == [
        ("/v1/related-companies/AAPL", {}), ("/v1/related-companies/MSFT", {})]
    assert [request.meta["polygon_units"] for request in requests] == [
        (("related_tickers", "AAPL"),), (("related_tickers", "MSFT"),)]
    assert all(request.meta["polygon_404_is_empty"] and request.callback == spider.parse_related_tickers
               and request.errback == spider.listing_failed for request in requests)


def test_the_answer_becomes_the_peers_ranked_in_the_apis_order_then_completes_the_ticker(spider):
    [request, _] = spider.requests({"related_tickers": ["AAPL", "MSFT"]})
    batch, complete = feed(request, RELATED)
    assert isinstance(batch, RecordBatch) and batch.dataset == "related_tickers"
    served = [peer["ticker"] for peer in fixture_json(RELATED)["results"]]
    assert records_of([batch]) == [{"ticker": "AAPL", "related_ticker": peer, "rank": rank}
                                   for rank, peer in enumerate(served, start=1)]
    assert served[:2] == ["MSFT", "GOOGL"]
    assert complete == UnitsComplete((("related_tickers", "AAPL"),))
