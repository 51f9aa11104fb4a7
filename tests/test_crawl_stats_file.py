"""At its end a crawl writes every stat to crawl_stats.json beside its ledger and logs a short
summary instead of Scrapy's stats dump (in process; tests/test_crawl_screener.py checks a real
crawl's log and file)."""

import json
import logging

from scrapy import Spider
from scrapy.utils.test import get_crawler

from screener_crawler.statscollectors import CrawlStatsFile, summary_lines

KEY = "stats-file-key-0c7e5a"


class TwoDatasetSpider(Spider):
    name = "two_datasets"
    datasets = ["dividends", "splits"]


def closed_crawl(tmp_path, stats, reason="finished"):
    crawler = get_crawler(TwoDatasetSpider, settings_dict={
        "SCREENER_DATA_DIR": str(tmp_path / "root"), "POLYGON_API_KEY": KEY, "STATS_DUMP": False,
        "STATS_CLASS": "screener_crawler.statscollectors.CrawlStatsFile"})
    crawler.spider = TwoDatasetSpider.from_crawler(crawler)
    assert isinstance(crawler.stats, CrawlStatsFile)
    crawler.stats.open_spider()
    crawler.stats.set_stats({**stats, "finish_reason": reason})
    crawler.stats.close_spider(reason=reason)
    return crawler


def test_every_stat_goes_to_a_json_file_beside_the_ledger_without_the_key(tmp_path, caplog):
    stats = {"downloader/request_count": 12, "fields_coverage/splits": {"ticker": "100.0%"},
             "odd/echo": f"https://api.example/?apiKey={KEY}"}
    with caplog.at_level(logging.INFO):
        closed_crawl(tmp_path, stats)
    path = tmp_path / "root" / "crawl_stats.json"
    text = path.read_text()
    assert KEY not in text
    written = json.loads(text)
    assert written["spider"] == "two_datasets"
    assert written["progress_file"] == str(tmp_path / "root" / "download_progress.json")
    assert written["stats"]["downloader/request_count"] == 12
    assert written["stats"]["fields_coverage/splits"] == {"ticker": "100.0%"}
    assert "Dumping Scrapy stats" not in caplog.text and "fields_coverage" not in caplog.text
    assert f"every stat and the field coverage: {path}" in caplog.text


def test_the_summary_names_failures_and_what_to_run_next(tmp_path):
    stats = {"elapsed_time_seconds": 75.4, "tickers/total": 3, "tickers/complete": 1, "tickers/failed": 2,
             "downloader/request_count": 30, "retry/count": 4,
             "ledger/done/dividends": 3, "ledger/rows/dividends": 1234, "ledger/done/splits": 1,
             "ledger/rows/splits": 2, "ledger/failed/splits": 2, "ledger/failed_reason/HTTP 503": 2}
    crawler = closed_crawl(tmp_path, stats, reason="shutdown")
    lines = summary_lines(crawler.stats.get_stats(), crawler.spider, crawler.settings, tmp_path / "s.json")
    assert lines[0] == "Crawl summary (two_datasets): shutdown after 0:01:15"
    assert "  tickers: 1 of 3 complete, 2 with a failed dataset" in lines
    assert "  API requests: 30 (10.00 per ticker), 429s: 0, retries: 4" in lines
    assert [line.split() for line in lines if line.startswith(("  dividends", "  splits"))] == [
        ["dividends", "3", "1,234", "0"], ["splits", "1", "2", "2"]]
    assert "  failed units by reason: HTTP 503 (2)" in lines
    assert f"  data: {tmp_path / 'root'}" in lines
    assert any(f"`scrapy status --data-dir {tmp_path / 'root'}`" in line for line in lines)
    assert "retries what failed" in lines[-1]
    assert len(lines) <= 12
