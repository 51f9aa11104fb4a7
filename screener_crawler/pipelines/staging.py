import asyncio
import errno
import logging
from collections import defaultdict
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from scrapy.utils.defer import deferred_from_coro

from screener_crawler.connection import data_root
from screener_crawler.datasets import DATASETS, STORED_DATASETS
from screener_crawler.items import (
    DatasetUnits, PartitionFailed, PartitionStaged, PartitionUnit, TickersRenamed, UnitFailed, UnitsFailed, UnitsStaged,
    UnitStaged, UpsertFailed, UpsertStaged, UpsertUnit,
)
from screener_crawler.ratios.ratio_pass import RATIO_OUTPUTS
from screener_crawler.storage.atomic import remove_temporaries
from screener_crawler.storage.layout import RUNNING_MARKER, published_partitions
from screener_crawler.storage.publishing import publish, read_published
from screener_crawler.storage.staging import WHOLE_TABLE, StagingArea
from screener_crawler.storage.tables import deduplicate, stamped
from screener_crawler.work_threads import PUBLISHING, STAGING, run_on

logger = logging.getLogger(__name__)

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class StagingPipeline:
    """Stages complete units durably (``storage/staging.py``) and passes on their
    ``UnitsStaged`` for the ledger; publishes what is staged into the partitions at start (what
    a killed crawl left), every ``SCREENER_PUBLISH_INTERVAL`` seconds, and at close; the
    months of a market-wide listing (grouped daily prices) also every ``SCREENER_PUBLISH_MONTHS``
    months staged.

    Units are staged many to a file: a unit waits until ``SCREENER_STAGING_BYTES`` bytes of rows are
    waiting or ``SCREENER_STAGING_DELAY`` seconds have passed since the first of them, then
    all of them are written in one thread call (a group commit). A month of a market-wide
    listing is staged at once, replacing the listing's tickers in that month only.
    Staging and publishing run in threads, off the reactor.

    Rows wait here from the moment their units complete until they are staged. While they
    exceed ``SCREENER_STAGING_BACKLOG_BYTES``, ``room_to_download`` holds the crawl's next
    requests (``StagingBacklogMiddleware``): a machine too busy to stage as fast as pages
    arrive then downloads more slowly instead of holding more pages.
    """

    def __init__(self, crawler):
        self._crawler = crawler
        self._stats = crawler.stats
        self._root = data_root(crawler.settings)
        self._area = StagingArea(self._root)
        self._batch_bytes = crawler.settings.getint("SCREENER_STAGING_BYTES")
        self._delay = crawler.settings.getfloat("SCREENER_STAGING_DELAY")
        self._interval = crawler.settings.getfloat("SCREENER_PUBLISH_INTERVAL")
        self._waiting = defaultdict(list)
        """dataset -> [(ticker, rows, future)] waiting to be staged."""
        self._waiting_bytes = 0
        self._flush_timer = None
        self._writing = None
        """The group of waiting units being written, while it is."""
        self._flush_due = False
        """Whether the waiting units are due to be written (their delay has passed, or their bytes
        reached ``SCREENER_STAGING_BYTES``)."""
        self._periodic = None
        self._months_per_publish = crawler.settings.getint("SCREENER_PUBLISH_MONTHS")
        self._months_waiting = defaultdict(int)
        """dataset -> months of a market-wide listing staged since its last publish."""
        self._publishing_months = set()
        self._backlog_limit = crawler.settings.getint("SCREENER_STAGING_BACKLOG_BYTES")
        self._backlog_bytes = 0
        self._room = asyncio.Event()
        self._room.set()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def open_spider(self):
        self._root.mkdir(parents=True, exist_ok=True)
        marker = self._root / RUNNING_MARKER
        if marker.exists():
            removed = await run_on(PUBLISHING, remove_temporaries, self._root)
            logger.warning("The last crawl did not stop cleanly; removed %d temporary file(s) it left", removed)
        marker.touch()
        if self._area.files():
            logger.info("Publishing the units an earlier crawl staged but did not publish")
            await self.publish_now()
        if self._interval > 0:
            self._periodic = asyncio.ensure_future(self._publish_periodically())

    async def close_spider(self):
        if self._periodic is not None:
            self._periodic.cancel()
        await self._flush()
        await self.publish_now()
        (self._root / RUNNING_MARKER).unlink(missing_ok=True)

    async def publish_now(self, datasets=None):
        return await publish_counted(self._root, self._stats, datasets)

    async def _publish_periodically(self):
        """Publish what is staged every ``SCREENER_PUBLISH_INTERVAL`` seconds, except the
        ratios: the ratio pass publishes them once it has staged them all (publishing its
        first chunks in the middle would rewrite every ratio partition twice)."""
        downloaded = [name for name in STORED_DATASETS if name not in RATIO_OUTPUTS]
        while True:
            await asyncio.sleep(self._interval)
            try:
                if (await self.publish_now(downloaded)).staged_files:
                    self._stats.inc_value("publish/periodic")
            except Exception:
                logger.exception("Publishing the staged units failed; they stay staged for the next publish")

    async def room_to_download(self) -> None:
        """Returns once the rows waiting to be staged are within ``SCREENER_STAGING_BACKLOG_BYTES``."""
        await self._room.wait()

    def _count_backlog(self, change: int) -> None:
        """Count ``change`` bytes more (or fewer) of rows waiting to be staged."""
        self._backlog_bytes += change
        if self._backlog_limit and self._backlog_bytes > self._backlog_limit:
            self._room.clear()
        elif not self._room.is_set():
            self._room.set()

    async def process_item(self, item):
        size = _rows_bytes(item)
        self._count_backlog(size)
        try:
            return await self._process(item)
        finally:
            self._count_backlog(-size)

    async def _process(self, item):
        try:
            if isinstance(item, PartitionUnit):
                return await self._stage_partition(item)
            if isinstance(item, DatasetUnits):
                return await self._stage_units(item)
            if isinstance(item, UpsertUnit):
                return await self._stage_upsert(item)
            if isinstance(item, TickersRenamed):
                await run_on(STAGING, self._stage_renames, item.renames)
                return item
        except OSError as error:
            if error.errno not in DISK_FULL:
                raise
            return self._disk_full(item, error)
        return item

    async def _stage_units(self, item):
        loop = asyncio.get_running_loop()
        outcomes = []
        for unit in item.units:
            outcomes.append(loop.create_future())
            self._waiting[unit.dataset].append((unit.ticker, unit.table, outcomes[-1]))
            self._waiting_bytes += 8 * unit.table.num_rows * unit.table.num_columns
        if self._waiting_bytes >= self._batch_bytes:
            await self._flush()
        elif self._flush_timer is None:
            self._flush_timer = loop.call_later(self._delay, lambda: deferred_from_coro(self._flush()))
        staged = []
        results = await asyncio.gather(*outcomes, return_exceptions=True)
        if errors := [result for result in results if isinstance(result, BaseException)]:
            raise errors[0]
        for unit, (rows, duplicates) in zip(item.units, results):
            self._stats.inc_value(f"staging/units/{unit.dataset}")
            self._stats.inc_value(f"staging/rows/{unit.dataset}", rows)
            if duplicates:
                self._stats.inc_value(f"staging/duplicates_dropped/{unit.dataset}", duplicates)
            staged.append(UnitStaged(unit.dataset, unit.ticker, rows, duplicates))
        return UnitsStaged(staged)

    async def _flush(self):
        """Stage every waiting unit, a file per dataset, and let their items go on. Units whose
        group is due while another is being written wait for it, and go together into the next
        group: a slow disk gets fewer, larger files instead of a queue of small ones."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        self._flush_due = True
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._write_waiting())
        await asyncio.shield(self._writing)

    async def _write_waiting(self):
        try:
            while self._flush_due and self._waiting:
                self._flush_due = False
                waiting, self._waiting, self._waiting_bytes = self._waiting, defaultdict(list), 0
                try:
                    outcomes = await run_on(STAGING, self._stage_waiting, waiting)
                except Exception as error:
                    outcomes = dict.fromkeys(waiting, error)
                for name, units in waiting.items():
                    for ticker, _, staged in units:
                        if isinstance(outcomes[name], Exception):
                            staged.set_exception(outcomes[name])
                        else:
                            staged.set_result(outcomes[name].get(ticker, (0, 0)))
        finally:
            self._writing = None

    def _stage_waiting(self, waiting):
        """Stage the waiting units, a file per dataset, without natural-key duplicates; dataset ->
        ticker -> (rows staged, duplicates dropped), or the error that failed the file."""
        downloaded_at, outcomes = datetime.now(UTC), {}
        for name, units in waiting.items():
            dataset = DATASETS[name]
            table = pa.concat_tables([rows for _, rows, _ in units])
            unique, dropped = deduplicate(dataset, table)
            tickers = WHOLE_TABLE if not dataset.per_ticker else [ticker for ticker, _, _ in units]
            try:
                self._area.stage(dataset, stamped(dataset, unique, downloaded_at), tickers)
            except Exception as error:
                outcomes[name] = error
                continue
            self._stats.inc_value("staging/files")
            before = _rows_by_ticker(table)
            after = _rows_by_ticker(unique) if dropped else before
            outcomes[name] = {ticker: (after.get(ticker, 0), count - after.get(ticker, 0))
                              for ticker, count in before.items()}
            if not dataset.per_ticker:
                outcomes[name] = {None: (unique.num_rows, table.num_rows - unique.num_rows)}
        return outcomes

    async def _stage_partition(self, item):
        year, month = item.partition
        rows, rows_by_ticker = await run_on(STAGING, self._stage_month, DATASETS[item.dataset], item.table,
                                                   year * 100 + month)
        self._stats.inc_value(f"staging/partitions/{item.dataset}")
        self._stats.inc_value(f"staging/rows/{item.dataset}", rows)
        self._months_waiting[item.dataset] += 1
        if self._months_per_publish and self._months_waiting[item.dataset] >= self._months_per_publish \
                and item.dataset not in self._publishing_months:
            deferred_from_coro(self._publish_months(item.dataset))
        return PartitionStaged(item.dataset, item.partition, item.months_total, rows_by_ticker)

    async def _stage_upsert(self, item):
        """An update's rows, staged to replace the rows of their natural keys (nothing staged
        when there are none)."""
        dataset = DATASETS[item.dataset]
        if item.table.num_rows:
            await run_on(STAGING, self._area.stage_upsert, dataset, stamped(dataset, item.table, datetime.now(UTC)))
            self._stats.inc_value("staging/files")
        self._stats.inc_value(f"staging/upserted_rows/{item.dataset}", item.table.num_rows)
        tickers = frozenset(pc.unique(item.table.column("ticker")).to_pylist()) if item.table.num_rows else frozenset()
        return UpsertStaged(item.dataset, tickers, item.table.num_rows)

    def _stage_renames(self, renames):
        """Stage the removal of the old tickers' rows from every dataset, and the related tickers
        of every other ticker that names one of them, named anew."""
        olds = sorted(renames)
        for dataset in STORED_DATASETS.values():
            if dataset.per_ticker:
                self._area.stage(dataset, dataset.schema.empty_table(), olds)
        related = DATASETS["related_tickers"]
        tables = [read_published(path, related) for path in published_partitions(self._root, related).values()]
        if not tables:
            return
        rows = pa.concat_tables(tables)
        naming = rows.filter(pc.is_in(rows.column("related_ticker"), pa.array(olds, pa.string())))
        owners = sorted(set(naming.column("ticker").to_pylist()) - set(olds))
        if owners:
            theirs = rows.filter(pc.is_in(rows.column("ticker"), pa.array(owners, pa.string()))).to_pylist()
            for row in theirs:
                row["related_ticker"] = renames.get(row["related_ticker"], row["related_ticker"])
            self._area.stage(related, pa.Table.from_pylist(theirs, schema=related.schema), owners)
        self._stats.inc_value("staging/renamed_tickers", len(olds))

    def _stage_month(self, dataset, table, month):
        """Stage a month of a market-wide listing as replacing the listing's tickers there; (rows
        staged, ticker -> rows)."""
        unique, _ = deduplicate(dataset, table)
        self._area.stage(dataset, stamped(dataset, unique, datetime.now(UTC)), self._crawler.spider.grouped_tickers,
                         month)
        return unique.num_rows, _rows_by_ticker(unique)

    async def _publish_months(self, dataset):
        """Publish the months of a market-wide listing staged so far: each is a whole partition,
        published once, so publishing them as they come costs no more than at the end, and
        leaves less to publish before the ratio pass."""
        self._publishing_months.add(dataset)
        self._months_waiting[dataset] = 0
        self._stats.inc_value(f"publish/months/{dataset}")
        try:
            await self.publish_now([dataset])
        except Exception:
            logger.exception("Publishing the staged months of %s failed; they stay staged for the next publish",
                             dataset)
        finally:
            self._publishing_months.discard(dataset)

    def _disk_full(self, item, error):
        """Stop the crawl with one message; the unit is failed, so the next run redoes it.
        The temporary file that did not fit has already been removed."""
        self._stats.inc_value("staging/disk_full")
        if self._stats.get_value("staging/disk_full") == 1:
            logger.error("The disk holding %s is full (%s): stopping the crawl. Nothing half-written was left; "
                         "units not staged are redone by the next run. Free some space, then run the same "
                         "command again.", self._root, error.strerror or error)
            deferred_from_coro(self._crawler.engine.close_spider_async(reason="disk_full"))
        if isinstance(item, PartitionUnit):
            return PartitionFailed(item.dataset, item.partition, "disk full")
        if isinstance(item, UpsertUnit):
            return UpsertFailed(item.dataset, "disk full")
        return UnitsFailed([UnitFailed(unit.dataset, unit.ticker, "disk full") for unit in item.units])


def _rows_bytes(item) -> int:
    """Bytes of the rows an item brings to be staged, estimated for a response's units: the
    units of one dataset share its schema, so one unit's bytes per row, times their rows, stands
    for theirs (``Table.nbytes`` walks every column of a table sliced from a page, too slow to
    call for each of ~50 units a page)."""
    if isinstance(item, DatasetUnits):
        rows, sample = defaultdict(int), {}
        for unit in item.units:
            rows[unit.dataset] += unit.table.num_rows
            if unit.table.num_rows and unit.dataset not in sample:
                sample[unit.dataset] = unit.table
        return sum(rows[dataset] * table.nbytes // table.num_rows for dataset, table in sample.items())
    if isinstance(item, (PartitionUnit, UpsertUnit)):
        return item.table.nbytes
    return 0


def _rows_by_ticker(table: pa.Table) -> dict:
    counts = pc.value_counts(table.column("ticker"))
    return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()))


async def publish_counted(root, stats, datasets=None):
    """Publish everything staged so far under ``root``, or that of ``datasets`` (in a thread;
    one publish at a time), counted in the crawl's stats."""
    report = await run_on(PUBLISHING, publish, root, None, datasets)
    for dataset, count in report.partitions_written.items():
        stats.inc_value(f"publish/partitions_written/{dataset}", count)
        stats.inc_value(f"publish/rows/{dataset}", report.rows_published[dataset])
    for dataset, count in report.partitions_unchanged.items():
        stats.inc_value(f"publish/partitions_unchanged/{dataset}", count)
    if report.staged_files:
        stats.inc_value("publish/count")
    return report
