import errno
import logging
from datetime import UTC, datetime

from scrapy.utils.asyncio import run_in_thread
from scrapy.utils.defer import deferred_from_coro

from screener_crawler.connection import data_root
from screener_crawler.datasets import DATASETS
from screener_crawler.items import (
    DatasetUnit,
    PartitionFailed,
    PartitionUnit,
    PartitionWritten,
    UnitFailed,
    UnitWritten,
)
from screener_crawler.ratios import input_cache
from screener_crawler.storage import remove_temporaries, write_partition, write_unit
from screener_crawler.workers import worker_pool

logger = logging.getLogger(__name__)

RUNNING_MARKER = ".crawl.running"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class ParquetWriterPipeline:
    """Writes each complete ``DatasetUnit`` as that ticker's Hive-partitioned Parquet files,
    in a worker process (``workers.py``) so the reactor keeps crawling, and passes on a
    ``UnitWritten`` summary.

    A marker in the data root tells whether the last crawl stopped cleanly; if it did not
    (killed mid-write), the temporary files it left are removed before writing starts.

    In a crawl that computes ratios, the units of their inputs are also written to the cache
    the ratios read them from (``ratios/input_cache.py``), emptied when the crawl opens and
    when it closes.
    """

    def __init__(self, crawler):
        self._crawler = crawler
        self._root = data_root(crawler.settings)
        self._stats = crawler.stats
        self._workers = worker_pool(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self):
        self._root.mkdir(parents=True, exist_ok=True)
        marker = self._root / RUNNING_MARKER
        if marker.exists():
            removed = remove_temporaries(self._root)
            logger.warning("The last crawl did not stop cleanly; removed %d temporary file(s) it left", removed)
        marker.touch()
        input_cache.empty(self._root)

    async def close_spider(self):
        await run_in_thread(input_cache.empty, self._root)
        (self._root / RUNNING_MARKER).unlink(missing_ok=True)

    def _caches(self, dataset):
        """Units of ``dataset`` go to the ratios' input cache too."""
        return dataset in input_cache.RATIO_INPUTS and "financial_ratios" in getattr(self._crawler.spider,
                                                                                      "datasets", ())

    async def process_item(self, item):
        try:
            return await self._write(item)
        except OSError as error:
            if error.errno not in DISK_FULL:
                raise
            return self._disk_full(item, error)

    def _disk_full(self, item, error):
        """Stop the crawl with one message; the unit is failed, so the next run redoes it.
        ``replace_atomically`` has already removed the temporary file that did not fit."""
        self._stats.inc_value("parquet/disk_full")
        if self._stats.get_value("parquet/disk_full") == 1:
            logger.error("The disk holding %s is full (%s): stopping the crawl. Nothing half-written was left; "
                         "units not written are redone by the next run. Free some space, then run the same "
                         "command again.", self._root, error.strerror or error)
            deferred_from_coro(self._crawler.engine.close_spider_async(reason="disk_full"))
        if isinstance(item, PartitionUnit):
            return PartitionFailed(item.dataset, item.partition, "disk full")
        return UnitFailed(item.dataset, item.ticker, "disk full")

    async def _write(self, item):
        if isinstance(item, PartitionUnit):
            return await self._write_partition(item)
        if not isinstance(item, DatasetUnit):
            return item
        downloaded_at = datetime.now(UTC)
        caches = self._caches(item.dataset)
        write = input_cache.write_unit_and_cache if caches else write_unit
        result = await self._workers.run((item.dataset, item.ticker), write, self._root,
                                         DATASETS[item.dataset], item.ticker, item.table, downloaded_at)
        if caches:
            self._stats.inc_value("ratio_inputs/units_cached")
        self._stats.inc_value(f"parquet/units_written/{item.dataset}")
        self._stats.inc_value(f"parquet/rows_written/{item.dataset}", result.rows)
        self._stats.inc_value("parquet/files_written", result.files)
        if result.duplicates:
            self._stats.inc_value(f"parquet/duplicates_dropped/{item.dataset}", result.duplicates)
        return UnitWritten(item.dataset, item.ticker, result.rows, result.duplicates, result.files)

    async def _write_partition(self, item):
        tickers = self._crawler.spider.grouped_tickers
        caches = self._caches(item.dataset)
        write = input_cache.write_partition_and_cache if caches else write_partition
        rows = await self._workers.run((item.dataset, item.partition), write, self._root,
                                       DATASETS[item.dataset], item.partition, item.table, tickers,
                                       datetime.now(UTC))
        if caches:
            self._stats.inc_value("ratio_inputs/months_cached")
        self._stats.inc_value(f"parquet/partitions_written/{item.dataset}")
        self._stats.inc_value(f"parquet/rows_written/{item.dataset}", sum(rows.values()))
        self._stats.inc_value("parquet/files_written", len(rows))
        return PartitionWritten(item.dataset, item.partition, item.months_total, rows)
