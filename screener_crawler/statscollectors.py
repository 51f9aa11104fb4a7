"""The crawl's stats at its end: every one in a JSON file beside the ledger, a short summary in
the log.

Scrapy's dump of the stats at the end of a crawl (``STATS_DUMP``, off in ``settings.py``) runs
to thousands of lines once the field coverage of every column is among them. What a person
reads at the end of the log instead is a dozen lines: tickers done and failed, requests, rows
per dataset, time, where the data are and what to run next. Every stat goes to
``crawl_stats.json`` beside the download ledger, which ``scrapy status`` reads.
"""

import logging
from datetime import timedelta
from pathlib import Path

import orjson
from scrapy.statscollectors import MemoryStatsCollector

from screener_crawler.connection import crawl_stats_file, data_root, progress_file
from screener_crawler.storage.atomic import write_bytes_atomically

logger = logging.getLogger(__name__)

REDACTED = b"<redacted>"


class CrawlStatsFile(MemoryStatsCollector):
    """Scrapy's stats collector that, when the spider closes (after every ``spider_closed``
    handler has set its stats), writes them all to ``crawl_stats.json`` beside the ledger
    (atomically, the API key blanked should any stat hold it) and logs the summary."""

    def close_spider(self, spider=None, reason=None) -> None:
        super().close_spider(reason=reason)
        settings, spider = self._crawler.settings, self._crawler.spider
        path = crawl_stats_file(progress_file(settings))
        document = {"spider": spider.name, "data_root": str(data_root(settings)),
                    "progress_file": str(progress_file(settings)), "stats": self.get_stats()}
        try:
            write_bytes_atomically(path, encode(document, settings.get("POLYGON_API_KEY")))
        except OSError as error:
            logger.error("Could not write the crawl's stats to %s: %s", path, error)
        logger.info("%s", "\n".join(summary_lines(self.get_stats(), spider, settings, path)))


def encode(document: dict, api_key: str | None) -> bytes:
    """``document`` as indented JSON (datetimes in ISO 8601), without ``api_key``."""
    encoded = orjson.dumps(document, default=str,
                           option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return encoded.replace(api_key.encode(), REDACTED) if api_key else encoded


def summary_lines(stats: dict, spider, settings, stats_path: Path) -> list[str]:
    """The end of the crawl's log, for a person: what was done, what failed, where it is."""
    elapsed = timedelta(seconds=round(stats.get("elapsed_time_seconds", 0)))
    lines = [f"Crawl summary ({spider.name}): {stats.get('finish_reason', 'ended')} after {elapsed}",
             *_ticker_lines(stats)]
    lines += _dataset_table(stats, getattr(spider, "datasets", ()))
    if "staging/rows/universe" in stats:
        lines.append(f"  universe: {stats['staging/rows/universe']:,} tickers listed")
    if stats.get("daily_prices/tickers_not_in_universe"):
        sample = stats.get("daily_prices/tickers_not_in_universe_sample", [])[:5]
        lines.append(f"  grouped daily bars of {stats['daily_prices/tickers_not_in_universe']:,} tickers not in the "
                     f"universe left out ({', '.join(sample)}, ...)")
    failures = sorted(((count, reason.removeprefix("ledger/failed_reason/")) for reason, count in stats.items()
                       if reason.startswith("ledger/failed_reason/")), reverse=True)
    if failures:
        lines.append("  failed units by reason: " + ", ".join(f"{reason} ({count:,})" for count, reason in failures))
    lines += [f"  data: {data_root(settings)}",
              f"  every stat and the field coverage: {stats_path}",
              f"  next: `{_status_command(settings)}` checks what is on disk (completion, failures, coverage)"]
    if failures or stats.get("finish_reason") != "finished":
        lines.append("        and the same crawl command again retries what failed and does what is left")
    return lines


def _ticker_lines(stats: dict) -> list[str]:
    requests = stats.get("downloader/request_count", 0)
    total = stats.get("tickers/total")
    per_ticker = f" ({requests / total:.2f} per ticker)" if total else ""
    lines = [f"  API requests: {requests:,}{per_ticker}, 429s: "
             f"{stats.get('downloader/response_status_count/429', 0):,}, retries: {stats.get('retry/count', 0):,}"]
    if total is not None:
        lines.insert(0, f"  tickers: {stats.get('tickers/complete', 0):,} of {total:,} complete, "
                        f"{stats.get('tickers/failed', 0):,} with a failed dataset")
    return lines


def _dataset_table(stats: dict, datasets) -> list[str]:
    """This run's units done, their rows and units failed, per dataset."""
    lines = [f"  {'dataset':<18} {'tickers done':>12} {'rows':>12} {'failed':>7}"]
    for dataset in datasets:
        lines.append(f"  {dataset:<18} {stats.get(f'ledger/done/{dataset}', 0):>12,} "
                     f"{stats.get(f'ledger/rows/{dataset}', 0):>12,} {stats.get(f'ledger/failed/{dataset}', 0):>7,}")
    return lines if datasets else []


def _status_command(settings) -> str:
    """``scrapy status`` with the options that make it look where this crawl wrote."""
    command = "scrapy status"
    if settings.get("SCREENER_DATA_DIR"):
        command += f" --data-dir {data_root(settings)}"
    if settings.get("SCREENER_PROGRESS_FILE"):
        command += f" --progress-file {progress_file(settings)}"
    return command
