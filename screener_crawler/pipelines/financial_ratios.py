import logging
import time
from collections import defaultdict

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import gatherResults

from screener_crawler.connection import data_root
from screener_crawler.items import (
    PartitionFailed, PartitionStaged, UnitFailed, UnitsStaged, UnitStaged, UpsertFailed, UpsertStaged, failures_of,
)
from screener_crawler.pipelines.unit_collector import UPSERT
from screener_crawler.ratios.inputs import RATIO_INPUTS, UPDATED_RATIO_INPUTS
from screener_crawler.ratios.ratio_pass import RatioPass
from screener_crawler.pipelines.staging import publish_counted
from screener_crawler.work_threads import RATIO_PASS, run_on

logger = logging.getLogger(__name__)

RATIOS = "financial_ratios"


class FinancialRatiosPipeline:
    """Computes ``financial_ratios`` in one pass as soon as every ratio input of the crawl
    (statements, daily prices, splits) is staged or failed, while the crawl goes on with the
    rest (ticker events, related tickers), or when it has nothing left to download: the staged
    inputs are published first, then the ratios of every ticker that needs them are computed
    from the published data, ``SCREENER_RATIO_CHUNK_TICKERS`` tickers at a time in a thread
    (``ratios/ratio_pass.py``), staged, counted in the ledger (``UnitsStaged`` items) and
    published. The spider stays open until the pass ends.

    A ticker needs its ratios when the ledger has them pending or this crawl staged one of
    their inputs; it gets them when every input is either not downloaded by this crawl or
    staged by it. An input that failed fails its ratios with the reason. A crawl stopped
    before the pass (Ctrl-C) leaves the ratios pending for the next run. In an update, an input's
    update listing is one more unit to settle, and the tickers its rows touch need their ratios.
    """

    def __init__(self, crawler):
        self._crawler = crawler
        self._stats = crawler.stats
        self._root = data_root(crawler.settings)
        self._chunk_tickers = crawler.settings.getint("SCREENER_RATIO_CHUNK_TICKERS")
        self._staged = defaultdict(set)
        self._failed = {}
        self._price_months = set()
        self._price_month_failed = False
        self._unsettled = None
        """Input dataset -> tickers the crawl plans and has not yet staged or failed."""
        self._started = False
        self._finished = False
        self._stopping = False

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_idle, signal=signals.spider_idle)
        return pipeline

    def _computes_ratios(self):
        return RATIOS in getattr(self._crawler.spider, "datasets", ())

    def process_item(self, item):
        if isinstance(item, UnitsStaged):
            for staged in item.units:
                if staged.dataset in RATIO_INPUTS:
                    self._staged[staged.dataset].add(staged.ticker)
                    self._settle(staged.dataset, [staged.ticker])
        elif failures := failures_of(item):
            for failed in failures:
                if failed.dataset in RATIO_INPUTS:
                    self._failed.setdefault(failed.ticker, f"input {failed.dataset} failed: {failed.reason}")
                    self._settle(failed.dataset, [failed.ticker])
        elif isinstance(item, PartitionStaged) and item.dataset == "daily_prices":
            self._price_months.add(item.partition)
            if len(self._price_months) == item.months_total and not self._price_month_failed:
                self._settle("daily_prices", self._crawler.spider.grouped_tickers)
                self._staged["daily_prices"].update(self._crawler.spider.grouped_tickers)
        elif isinstance(item, PartitionFailed) and item.dataset == "daily_prices":
            self._price_month_failed = True
        elif isinstance(item, (UpsertStaged, UpsertFailed)) and item.dataset in RATIO_INPUTS:
            if isinstance(item, UpsertStaged) and item.dataset in UPDATED_RATIO_INPUTS:
                self._staged[item.dataset].update(item.tickers)
            self._settle(item.dataset, [UPSERT])
        return item

    def _settle(self, dataset, tickers):
        """Count input units settled; publish an input once all its units are settled, and
        start the pass once none the crawl plans is left."""
        if self._unsettled is None:
            pending = getattr(self._crawler.spider, "pending", {})
            if not all(d in pending for d in self._crawler.spider.datasets):
                return
            upserts = getattr(self._crawler.spider, "planned_upserts", set())
            self._unsettled = {d: set(pending.get(d, ())) | ({UPSERT} if d in upserts else set()) for d in RATIO_INPUTS}
        unsettled = self._unsettled[dataset]
        if not unsettled or self._started or not self._computes_ratios():
            return
        unsettled.difference_update(tickers)
        if not any(self._unsettled.values()):
            self._start()
        elif not unsettled:
            deferred_from_coro(self._publish_input(dataset))

    async def _publish_input(self, dataset):
        """Publish a ratio input as soon as all of it is staged, while the others download, so
        that the pass, once they are all staged, finds little left to publish."""
        try:
            await publish_counted(self._root, self._stats, [dataset])
        except Exception:
            logger.exception("Publishing %s failed; it stays staged for the next publish", dataset)

    def _start(self):
        self._started = True
        deferred_from_coro(self._ratio_pass())

    def close_spider(self):
        self._stopping = True

    def spider_idle(self):
        """Start the pass when the crawl first has nothing left to download, and keep the
        spider open while it runs (Scrapy signals idleness again every few seconds)."""
        if not self._computes_ratios() or self._finished:
            return
        if not self._started:
            self._start()
        raise DontCloseSpider

    def due(self):
        """(tickers whose ratios are computed now, ticker -> reason their ratios fail)."""
        pending = self._crawler.spider.pending
        wanted = set(pending.get(RATIOS, ())).union(*self._staged.values())
        settled = {ticker for ticker in wanted
                   if all(ticker not in pending.get(d, ()) or ticker in self._staged[d] for d in RATIO_INPUTS)}
        failed = {ticker: self._failed[ticker] for ticker in wanted if ticker in self._failed}
        return sorted(settled - set(failed)), failed

    async def _ratio_pass(self):
        try:
            due, failed = self.due()
            await self._send([UnitFailed(RATIOS, ticker, reason) for ticker, reason in failed.items()])
            if due:
                logger.info("Publishing the ratio inputs staged so far, then computing the ratios")
                await publish_counted(self._root, self._stats)
                await self._compute(due)
                await publish_counted(self._root, self._stats)
        except Exception:
            logger.exception("The financial ratio pass failed; the ratios not staged stay pending for the next run")
        finally:
            self._finished = True
            if not self._stopping and self._crawler.engine.spider_is_idle():
                await self._crawler.engine.close_spider_async(reason="finished")

    async def _compute(self, tickers):
        logger.info("Computing the financial ratios of %d ticker(s), %d at a time", len(tickers), self._chunk_tickers)
        ratio_pass = RatioPass(self._root, tickers, self._chunk_tickers)
        started, done = time.monotonic(), 0
        try:
            for chunk in ratio_pass.chunks():
                if self._stopping:
                    logger.info("Stopping: the ratios of %d ticker(s) are left for the next run", len(tickers) - done)
                    return
                result = await run_on(RATIO_PASS, ratio_pass.stage_chunk, chunk)
                for ticker, error in result.failed.items():
                    logger.error("Could not compute the financial ratios of %s", ticker, exc_info=error)
                await self._send([UnitsStaged([UnitStaged(RATIOS, ticker, rows) for ticker, rows in result.rows.items()])]
                                 + [UnitFailed(RATIOS, ticker, f"ratio computation: {type(error).__name__}")
                                    for ticker, error in result.failed.items()])
                done += len(chunk)
                self._stats.inc_value("financial_ratios/rows", sum(result.rows.values()))
                self._stats.inc_value("financial_ratios/rows_with_share_counts_not_positive", result.shares_not_positive)
                logger.info("Financial ratios: %d/%d tickers (%.0f s)", done, len(tickers), time.monotonic() - started)
        finally:
            await run_on(RATIO_PASS, ratio_pass.close)
        self._stats.set_value("financial_ratios/seconds", round(time.monotonic() - started, 1))

    async def _send(self, items):
        """Put ``items`` through the item pipelines, as if the spider had yielded them."""
        for item in items:
            if isinstance(item, UnitsStaged):
                self._stats.inc_value(f"units/complete/{RATIOS}", len(item.units))
            else:
                self._stats.inc_value(f"units/failed/{RATIOS}")
                self._stats.inc_value(f"units/failed_reason/{item.reason}")
        scraper = self._crawler.engine.scraper
        runs = [deferred_from_coro(scraper.start_itemproc_async(item, response=None)) for item in items]
        await maybe_deferred_to_future(gatherResults(runs, consumeErrors=True))
