"""The download ledger file (DESIGN §4): what a re-run reads to skip finished units."""

import asyncio
import json
import threading
from types import SimpleNamespace

import pytest
from scrapy.utils.test import get_crawler

from screener_crawler.items import UnitsStaged, UnitStaged
from screener_crawler.ledger import Ledger
from screener_crawler.pipelines.ledger import LedgerPipeline


def test_a_saved_ledger_is_plain_json_that_loads_back_unchanged(tmp_path):
    ledger = Ledger(tmp_path / "download_progress.json")
    ledger.mark_done("splits", "AAPL", 3)
    ledger.mark_failed("dividends", "ZZZZ", "http_404")
    ledger.summarise(["AAPL", "ZZZZ"], ["splits", "dividends"], workers=16)
    ledger.save()

    on_disk = json.loads((tmp_path / "download_progress.json").read_text())
    assert list(on_disk) == sorted(on_disk)
    assert on_disk["datasets"]["splits"]["done"] == {"AAPL": [3, ledger.as_dict()["datasets"]["splits"]["done"]["AAPL"].at]}
    reloaded = Ledger.load(tmp_path / "download_progress.json")
    assert reloaded.as_dict() == ledger.as_dict()
    assert reloaded.is_done("splits", "AAPL") and not reloaded.is_done("dividends", "ZZZZ")
    assert reloaded.done_at("splits", "AAPL") == ledger.done_at("splits", "AAPL") is not None
    assert reloaded.failures("dividends")["ZZZZ"]["error"] == "http_404"
    assert [p.name for p in tmp_path.iterdir()] == ["download_progress.json"]


def test_a_ledger_written_with_a_rows_and_at_object_per_unit_still_loads(tmp_path):
    path = tmp_path / "download_progress.json"
    path.write_text(json.dumps({"datasets": {"splits": {
        "done": {"AAPL": {"rows": 3, "at": "2026-12-01T10:00:00+00:00"}, "MSFT": {"rows": 0}, "NVDA": None},
        "failed": None}}}))
    ledger = Ledger.load(path)
    assert ledger.done_tickers("splits") == {"AAPL", "MSFT", "NVDA"}
    assert ledger.done_at("splits", "AAPL").isoformat() == "2026-12-01T10:00:00+00:00"
    assert ledger.done_at("splits", "MSFT") is None
    ledger.mark_failed("splits", "TSLA", "HTTP 500")
    ledger.save()
    assert json.loads(path.read_text())["datasets"]["splits"]["done"] == {
        "AAPL": [3, "2026-12-01T10:00:00+00:00"], "MSFT": [0, None], "NVDA": [0, None]}


def test_a_file_that_is_json_but_not_a_ledger_is_refused_with_its_path(tmp_path):
    path = tmp_path / "download_progress.json"
    for text in ("[1, 2]", '{"datasets": [1]}', '{"datasets": {"splits": {"done": {"AAPL": 3}}}}',
                 '{"datasets": {"splits": {"done": {"AAPL": "ab"}}}}', '{"datasets": {"splits": {"done": {"AAPL": ["3", null]}}}}',
                 '{"datasets": {"splits": {"done": {"AAPL": [1, 5]}}}}'):
        path.write_text(text)
        with pytest.raises(ValueError, match="is not a download ledger"):
            Ledger.load(path)


def test_a_ticker_is_completed_only_when_every_dataset_of_the_crawl_is_done(tmp_path):
    ledger = Ledger(tmp_path / "download_progress.json")
    for dataset in ("splits", "dividends"):
        ledger.mark_done(dataset, "AAPL", 1)
    ledger.mark_done("splits", "MSFT", 1)
    ledger.mark_failed("dividends", "MSFT", "timeout")
    ledger.mark_done("splits", "NVDA", 1)
    ledger.mark_done("dividends", "TSLA", 1)

    ledger.summarise(["NVDA", "MSFT", "AAPL", "TSLA"], ["splits", "dividends"], workers=8)
    state = ledger.as_dict()
    assert state["completed"] == ["AAPL"]
    assert state["failed"] == {"MSFT": {"error": "dividends: timeout", "timestamp": state["failed"]["MSFT"]["timestamp"]}}
    assert state["total_tickers"] == 4 and state["workers"] == 8

    ledger.summarise(["NVDA", "MSFT", "AAPL", "TSLA"], ["splits"], workers=8)
    assert ledger.as_dict()["completed"] == ["NVDA", "MSFT", "AAPL"]


def test_the_pipeline_writes_the_ledger_in_a_thread_one_write_at_a_time(tmp_path, monkeypatch):
    path = tmp_path / "download_progress.json"
    crawler = get_crawler(settings_dict={"SCREENER_PROGRESS_FILE": str(path), "SCREENER_LEDGER_SAVE_INTERVAL": 0})
    crawler.spider = SimpleNamespace(tickers=["AAPL", "MSFT", "NVDA"], datasets=["splits"])
    pipeline = LedgerPipeline.from_crawler(crawler)
    pipeline.open_spider()
    release, writers = threading.Event(), []
    write = Ledger.write

    def slow_write(ledger, encoded):
        writers.append(threading.current_thread())
        release.wait(5)
        write(ledger, encoded)

    monkeypatch.setattr(Ledger, "write", slow_write)

    async def crawl():
        pipeline.process_item(UnitsStaged([UnitStaged("splits", "AAPL", 1)]))
        await asyncio.sleep(0.2)
        pipeline.process_item(UnitsStaged([UnitStaged("splits", "MSFT", 1)]))
        started_while_blocked = len(writers)
        release.set()
        await asyncio.sleep(0.2)
        pipeline.process_item(UnitsStaged([UnitStaged("splits", "NVDA", 1)]))
        await asyncio.sleep(0.2)
        started_after = len(writers)
        await pipeline.close_spider()
        return started_while_blocked, started_after

    assert asyncio.run(crawl()) == (1, 2), "one write at a time, and the next once it has ended"
    assert writers[0] is not threading.main_thread()
    assert Ledger.load(path).is_done("splits", "MSFT") and Ledger.load(path).is_done("splits", "NVDA")


def test_a_staged_ratio_input_makes_the_tickers_ratios_pending_again(tmp_path):
    path = tmp_path / "download_progress.json"
    crawler = get_crawler(settings_dict={"SCREENER_PROGRESS_FILE": str(path), "SCREENER_LEDGER_SAVE_INTERVAL": 1e9})
    crawler.spider = SimpleNamespace(tickers=["AAPL", "MSFT"], datasets=["splits", "financial_ratios", "related_tickers"])
    pipeline = LedgerPipeline.from_crawler(crawler)
    pipeline.open_spider()
    for ticker in ("AAPL", "MSFT"):
        pipeline.process_item(UnitsStaged([UnitStaged("financial_ratios", ticker, 5)]))
    pipeline.process_item(UnitsStaged([UnitStaged("splits", "AAPL", 1)]))
    pipeline.process_item(UnitsStaged([UnitStaged("related_tickers", "MSFT", 3)]))
    assert not pipeline.ledger.is_done("financial_ratios", "AAPL"), "its splits changed: recompute"
    assert pipeline.ledger.is_done("financial_ratios", "MSFT"), "related tickers are not a ratio input"
