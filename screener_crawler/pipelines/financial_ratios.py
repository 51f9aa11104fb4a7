import logging
import time
from collections import defaultdict
from functools import partial

from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred, gatherResults

from screener_crawler.connection import data_root
from screener_crawler.items import (
    PartitionFailed,
    PartitionWritten,
    RatiosDue,
    UnitFailed,
    UnitWritten,
)
from screener_crawler.ratios.input_cache import RATIO_INPUTS
from screener_crawler.ratios.latest import NAME as LATEST_NAME
from screener_crawler.ratios.latest import update_latest
from screener_crawler.ratios.source import compute_and_write
from screener_crawler.turns import next_reactor_turn
from screener_crawler.workers import worker_pool

logger = logging.getLogger(__name__)

RATIOS = "financial_ratios"
BATCHES_AT_ONCE = 2
"""Batches computed at the same time, each in its own worker process (``workers.py``)."""
LEFT_FOR_NEXT_RUN = object()
"""The result of a queued ticker when the crawl stops before its batch: its unit stays pending."""
SEND_SLICE = 256
"""Item pipelines started per reactor turn when many tickers become due at once."""


async def start_in_slices(starts, size, next_turn):
    """Start the coroutine functions ``starts``, ``size`` per turn of the event loop (awaiting
    ``next_turn`` between slices), and return their Deferreds without waiting for them."""
    runs = []
    for first in range(0, len(starts), size):
        if first:
            await next_turn()
        runs += [deferred_from_coro(start()) for start in starts[first:first + size]]
    return runs


class FinancialRatiosPipeline:
    """Computes a ticker's ``financial_ratios`` unit once its inputs (statements, daily prices,
    splits) are settled in this crawl: written, or not to be downloaded by it (then what is on
    disk is used). The computation reads the ticker's own files and writes its unit in a thread;
    the reactor only keeps the books.

    A ``RatiosDue`` item (from the spider, for tickers with nothing pending, or sent here when
    the last input of a ticker is written) becomes the unit's ``UnitWritten`` or ``UnitFailed``
    for the ledger. An input that fails fails the ticker's ratios with its reason. Sits between
    the Parquet writer, whose ``UnitWritten``/``PartitionWritten`` it watches, and the ledger;
    a ``RatiosDue`` that reaches the ledger (the crawl stopped first) leaves the unit pending.

    Due tickers queue up and are computed in batches of up to ``SCREENER_RATIO_BATCH_TICKERS``
    (pandas costs about as much for one ticker as for many), ``BATCHES_AT_ONCE`` batches at a
    time, each in a worker; each ``RatiosDue`` waits for its ticker's result. When the grouped
    daily prices complete every ticker at once, all of them are queued together, so that every
    lane has a batch (``financial_ratios/lanes_busy_max``).
    """

    def __init__(self, crawler):
        self._crawler = crawler
        self._root = data_root(crawler.settings)
        self._stats = crawler.stats
        self._written = defaultdict(set)
        self._settled = set()
        self._price_partitions = set()
        self._price_partition_failed = False
        self._queue = []
        self._results = {}
        self._free_lanes = list(range(BATCHES_AT_ONCE))
        self._lanes_busy = 0
        self._batch_tickers = crawler.settings.getint("SCREENER_RATIO_BATCH_TICKERS")
        self._workers = worker_pool(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_item(self, item):
        if isinstance(item, RatiosDue):
            return await self._compute(item.ticker)
        if isinstance(item, UnitWritten) and item.dataset in RATIO_INPUTS:
            self._written[item.dataset].add(item.ticker)
            await self._send_due([item.ticker])
        elif isinstance(item, UnitFailed) and item.dataset in RATIO_INPUTS:
            await self._input_failed(item)
        elif isinstance(item, PartitionWritten) and item.dataset == "daily_prices":
            await self._price_partition_written(item)
        elif isinstance(item, PartitionFailed) and item.dataset == "daily_prices":
            self._price_partition_failed = True
        return item

    def _wanted(self, ticker):
        """Ratios of ``ticker`` are to be (re)computed in this crawl: pending in the ledger's
        view, or one of their inputs has just been rewritten."""
        spider = self._crawler.spider
        if RATIOS not in getattr(spider, "datasets", ()) or ticker in self._settled:
            return False
        return ticker in spider.pending.get(RATIOS, ()) or any(ticker in self._written[d] for d in RATIO_INPUTS)

    def _inputs_settled(self, ticker):
        pending = self._crawler.spider.pending
        return all(ticker not in pending.get(d, ()) or ticker in self._written[d] for d in RATIO_INPUTS)

    async def _send_due(self, tickers):
        due = [t for t in tickers if self._wanted(t) and self._inputs_settled(t)]
        self._settled.update(due)
        await self._send([RatiosDue(ticker) for ticker in due])

    async def _input_failed(self, item):
        if self._wanted(item.ticker):
            self._settled.add(item.ticker)
            await self._send([UnitFailed(RATIOS, item.ticker, f"input {item.dataset} failed: {item.reason}")])

    async def _price_partition_written(self, item):
        """Grouped daily prices complete every ticker's prices with their last month."""
        self._price_partitions.add(item.partition)
        if len(self._price_partitions) < item.months_total or self._price_partition_failed:
            return
        tickers = sorted(getattr(self._crawler.spider, "grouped_tickers", ()))
        self._written["daily_prices"].update(tickers)
        await self._send_due(tickers)

    async def _send(self, items):
        """Put ``items`` through the item pipelines, as if the spider had yielded them: all of
        them at once, but started ``SEND_SLICE`` per reactor turn (the grouped daily prices make
        ten thousand tickers due together; starting their pipelines in one turn stalls it)."""
        scraper = self._crawler.engine.scraper
        runs = await start_in_slices([partial(scraper.start_itemproc_async, item, response=None) for item in items],
                                     SEND_SLICE, next_reactor_turn)
        await maybe_deferred_to_future(gatherResults(runs, consumeErrors=True))

    async def _compute(self, ticker):
        self._settled.add(ticker)
        result = self._results[ticker] = Deferred()
        self._queue.append(ticker)
        if self._free_lanes:
            lane = self._free_lanes.pop(0)
            call_later(0, lambda: deferred_from_coro(self._compute_queue(lane)))
        result = await maybe_deferred_to_future(result)
        if result is LEFT_FOR_NEXT_RUN:
            return RatiosDue(ticker)
        if isinstance(result, Exception):
            logger.error("Could not compute the financial ratios of %s", ticker, exc_info=result)
            self._stats.inc_value("financial_ratios/errors")
            reason = f"ratio computation: {type(result).__name__}"
            self._stats.inc_value(f"units/failed/{RATIOS}")
            self._stats.inc_value(f"units/failed_reason/{reason}")
            return UnitFailed(RATIOS, ticker, reason)
        self._stats.inc_value(f"units/complete/{RATIOS}")
        self._stats.inc_value("financial_ratios/units")
        self._stats.inc_value("financial_ratios/rows", result.rows)
        return UnitWritten(RATIOS, ticker, result.rows, result.duplicates, result.files)

    async def _compute_batch(self, lane, batch):
        """Compute and write ``batch`` in the lane's process, then put its rows in the
        cross-section, whose updates all go to one process, one at a time."""
        results, latest = await self._workers.run(lane, compute_and_write, self._root, batch)
        written = [ticker for ticker in batch if not isinstance(results[ticker], Exception)]
        try:
            await self._workers.run(LATEST_NAME, update_latest, self._root, written, latest)
        except Exception as error:
            results.update(dict.fromkeys(written, error))
        return results

    async def _compute_queue(self, lane):
        """Compute the queued tickers, a batch at a time, until none is left (started on the
        reactor's next turn, so that tickers due together share a batch). Each of the
        ``BATCHES_AT_ONCE`` lanes has its own worker process."""
        try:
            while self._queue and self._crawler.engine.running:
                batch, self._queue = self._queue[:self._batch_tickers], self._queue[self._batch_tickers:]
                started = time.monotonic()
                self._lanes_busy += 1
                self._stats.max_value("financial_ratios/lanes_busy_max", self._lanes_busy)
                try:
                    results = await self._compute_batch(lane, batch)
                except Exception as error:
                    results = dict.fromkeys(batch, error)
                finally:
                    self._lanes_busy -= 1
                self._stats.inc_value("financial_ratios/batches")
                self._stats.inc_value("financial_ratios/compute_ms", int(1000 * (time.monotonic() - started)))
                for ticker in batch:
                    self._results.pop(ticker).callback(results[ticker])
            await self._leave_queue()
        finally:
            self._free_lanes.append(lane)

    async def _leave_queue(self):
        """When the crawl is stopping (Ctrl-C, ``--stop-after``), the queued tickers are left
        pending for the next run, instead of holding the stop until every batch is computed
        (at 10,070 tickers, all of them are queued at once). Their items are let go
        ``SEND_SLICE`` per reactor turn: 4,086 at once held the reactor for 263 ms."""
        while self._queue:
            if not self._stats.get_value("financial_ratios/left_for_next_run"):
                logger.info("Stopping: the financial ratios of %d queued ticker(s), and of any due from now on, "
                            "are left for the next run", len(self._queue))
            self._stats.inc_value("financial_ratios/left_for_next_run", len(self._queue))
            queue, self._queue = self._queue, []
            for position, ticker in enumerate(queue):
                if position and position % SEND_SLICE == 0:
                    await next_reactor_turn()
                self._results.pop(ticker).callback(LEFT_FOR_NEXT_RUN)
