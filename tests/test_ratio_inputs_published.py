"""The ratio pipeline publishes each ratio input as soon as every unit of it the crawl plans is
staged or failed, and starts the pass, not a publish of one input, once they all are."""

import asyncio
from types import SimpleNamespace

from scrapy.utils.test import get_crawler

from screener_crawler.items import UnitFailed, UnitsStaged, UnitStaged
from screener_crawler.pipelines import financial_ratios
from screener_crawler.pipelines.financial_ratios import FinancialRatiosPipeline

INPUTS = ("balance_sheets", "income_statements", "cash_flow", "daily_prices", "splits")


def pipeline_of(tmp_path, monkeypatch, tickers=("AAPL", "MSFT")):
    published, started = [], []

    async def publish_counted(root, stats, datasets=None):
        published.append(datasets)

    monkeypatch.setattr(financial_ratios, "publish_counted", publish_counted)
    monkeypatch.setattr(FinancialRatiosPipeline, "_start", lambda self: started.append(True))
    crawler = get_crawler(settings_dict={"SCREENER_DATA_DIR": str(tmp_path)})
    datasets = (*INPUTS, "financial_ratios")
    crawler.spider = SimpleNamespace(datasets=datasets, pending={dataset: dict.fromkeys(tickers) for dataset in datasets})
    return FinancialRatiosPipeline(crawler), published, started


def staged(dataset, *tickers):
    return UnitsStaged([UnitStaged(dataset, ticker, 1) for ticker in tickers])


def feed(pipeline, *items):
    """Put ``items`` through the pipeline on a running event loop, letting what each starts run."""
    async def main():
        for item in items:
            pipeline.process_item(item)
            await asyncio.sleep(0)

    asyncio.run(main())


def test_an_input_is_published_once_all_its_units_are_settled(tmp_path, monkeypatch):
    pipeline, published, started = pipeline_of(tmp_path, monkeypatch)
    feed(pipeline, staged("balance_sheets", "AAPL"))
    assert published == []
    feed(pipeline, UnitFailed("balance_sheets", "MSFT", "HTTP 503"))
    assert published == [["balance_sheets"]]
    feed(pipeline, staged("splits", "AAPL", "MSFT"))
    assert published == [["balance_sheets"], ["splits"]]
    assert started == []


def test_the_last_input_starts_the_pass_instead_of_a_publish_of_its_own(tmp_path, monkeypatch):
    pipeline, published, started = pipeline_of(tmp_path, monkeypatch)
    feed(pipeline, *(staged(dataset, "AAPL", "MSFT") for dataset in INPUTS[:-1]))
    assert published == [[dataset] for dataset in INPUTS[:-1]]
    feed(pipeline, staged("splits", "AAPL", "MSFT"))
    assert started == [True]
    assert published == [[dataset] for dataset in INPUTS[:-1]]
