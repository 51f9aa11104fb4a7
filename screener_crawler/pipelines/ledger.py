import asyncio
import logging
import time
from collections import Counter, defaultdict

from screener_crawler.connection import progress_file
from screener_crawler.items import (
    PartitionFailed, PartitionStaged, TickersRenamed, UnitsStaged, UpsertFailed, UpsertStaged, failures_of,
)
from screener_crawler.ledger import Ledger
from screener_crawler.ratios.inputs import RATIO_INPUTS, UPDATED_RATIO_INPUTS
from screener_crawler.work_threads import LEDGER_WRITES, run_on

RATIOS = "financial_ratios"

logger = logging.getLogger(__name__)


class LedgerPipeline:
    """Records each staged or failed unit in the download ledger (DESIGN §4), saved atomically
    every ``SCREENER_LEDGER_SAVE_INTERVAL`` seconds and at the end, and counts this run's units in
    the stats, which the end-of-crawl summary reads (``statscollectors.py``): per dataset, units
    done (``ledger/done/<dataset>``), their rows (``ledger/rows/<dataset>``) and units failed
    (``ledger/failed/<dataset>``, the universe's too), failures by reason
    (``ledger/failed_reason/<reason>``), and at the end the crawl's tickers with a unit failed
    (``tickers/failed``). A ticker whose ratio inputs are staged again (a unit, or rows of an
    update) has its ratios pending again until they are recomputed.

    At the end, each dataset the crawl completed, every unit of every ticker of the universe
    and every update listing, gets the crawl's market day as its watermark (``Ledger.watermark``).
    """

    def __init__(self, crawler):
        self._crawler = crawler
        self._stats = crawler.stats
        self._path = progress_file(crawler.settings)
        self._interval = crawler.settings.getfloat("SCREENER_LEDGER_SAVE_INTERVAL")
        self._workers = crawler.settings.getint("CONCURRENT_REQUESTS")
        self._last_save = time.monotonic()
        self._complete_tickers = set()
        self._partitions_written = defaultdict(set)
        self._partition_rows = defaultdict(Counter)
        self._partition_failures = defaultdict(set)
        self._upserts_staged = set()
        self._upserts_failed = set()
        self.ledger = None
        self._writing = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self):
        self.ledger = Ledger.load(self._path)

    def process_item(self, item):
        if isinstance(item, UnitsStaged):
            for staged in item.units:
                if staged.ticker is not None:
                    self._mark_done(staged.dataset, staged.ticker, staged.rows)
        elif failures := failures_of(item):
            for failed in failures:
                self._stats.inc_value(f"ledger/failed/{failed.dataset}")
                self._stats.inc_value(f"ledger/failed_reason/{failed.reason}")
                if failed.ticker is not None:
                    self.ledger.mark_failed(failed.dataset, failed.ticker, failed.reason)
        elif isinstance(item, PartitionStaged):
            self._partition_written(item)
        elif isinstance(item, PartitionFailed):
            self._partition_failures[item.dataset].add(item.partition)
        elif isinstance(item, UpsertStaged):
            self._upsert_staged(item)
        elif isinstance(item, TickersRenamed):
            for old in item.renames:
                self.ledger.forget_ticker(old)
        elif isinstance(item, UpsertFailed):
            self._upserts_failed.add(item.dataset)
            self._stats.inc_value(f"ledger/failed/{item.dataset}")
            self._stats.inc_value(f"ledger/failed_reason/{item.reason}")
        else:
            return item
        if time.monotonic() - self._last_save >= self._interval and self._writing is None:
            self._save_in_thread()
        return item

    async def close_spider(self):
        if self._writing is not None:
            await asyncio.wait([self._writing])
        self._summarise()
        self._advance_watermarks()
        self.ledger.save()
        failed = set(self.ledger.as_dict()["failed"]) & set(self._crawler.spider.tickers or ())
        self._stats.set_value("tickers/failed", len(failed))

    def _partition_written(self, item):
        """A market-wide listing by day completes its tickers' units once every partition is
        written, and none failed."""
        written = self._partitions_written[item.dataset]
        written.add(item.partition)
        self._partition_rows[item.dataset].update(item.rows_by_ticker)
        if len(written) < item.months_total or self._partition_failures[item.dataset]:
            return
        rows = self._partition_rows[item.dataset]
        for ticker in sorted(self._crawler.spider.grouped_tickers):
            self._mark_done(item.dataset, ticker, rows[ticker])
            self._stats.inc_value(f"units/complete/{item.dataset}")

    def _upsert_staged(self, item):
        self._upserts_staged.add(item.dataset)
        self._stats.inc_value(f"ledger/upserted_rows/{item.dataset}", item.rows)
        if item.dataset in UPDATED_RATIO_INPUTS:
            for ticker in item.tickers:
                self._ratios_pending(ticker)

    def _advance_watermarks(self):
        """The crawl's market day becomes the watermark of each dataset it completed: it
        covered the whole universe, every ticker's unit is done, and every update listing it
        planned was staged."""
        spider = self._crawler.spider
        market_today = getattr(spider, "market_today", None)
        if market_today is None or not getattr(spider, "whole_universe", False):
            return
        planned_upserts = getattr(spider, "planned_upserts", set())
        for dataset in spider.datasets:
            if dataset in planned_upserts and (dataset not in self._upserts_staged or dataset in self._upserts_failed):
                continue
            if all(self.ledger.is_done(dataset, ticker) for ticker in spider.tickers or ()):
                self.ledger.set_watermark(dataset, market_today)
                self._stats.set_value(f"ledger/watermark/{dataset}", market_today.isoformat())

    def _ratios_pending(self, ticker):
        if self.ledger.is_done(RATIOS, ticker):
            self.ledger.forget(RATIOS, ticker)

    def _mark_done(self, dataset, ticker, rows):
        self.ledger.mark_done(dataset, ticker, rows)
        if dataset in RATIO_INPUTS:
            self._ratios_pending(ticker)
        self._stats.inc_value(f"ledger/done/{dataset}")
        self._stats.inc_value(f"ledger/rows/{dataset}", rows)
        self._count_complete_ticker(ticker)

    def _count_complete_ticker(self, ticker):
        spider = self._crawler.spider
        if ticker not in self._complete_tickers and all(self.ledger.is_done(d, ticker) for d in spider.datasets):
            self._complete_tickers.add(ticker)
            self._stats.inc_value("tickers/complete")

    def _summarise(self):
        spider = self._crawler.spider
        self.ledger.summarise(spider.tickers or (), spider.datasets, self._workers)

    def _save_in_thread(self):
        """Encode the ledger here and write it in a thread, one write at a time: a write can
        wait on the disk."""
        self._summarise()
        self._last_save = time.monotonic()
        self._writing = asyncio.ensure_future(run_on(LEDGER_WRITES, self.ledger.write, self.ledger.encoded()))
        self._writing.add_done_callback(self._write_ended)

    def _write_ended(self, writing):
        self._writing = None
        if writing.exception() is not None:
            logger.error("Could not save the download ledger %s: %s", self._path, writing.exception())
