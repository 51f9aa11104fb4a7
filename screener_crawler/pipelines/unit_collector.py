import logging
import pickle
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
from scrapy.exceptions import DropItem
from scrapy.utils.job import job_dir

from screener_crawler.datasets import DATASETS
from screener_crawler.items import (
    DatasetUnit, DatasetUnits, PartitionComplete, PartitionFailed, PartitionUnit, RecordBatch, UnitFailed,
    UnitsComplete, UpsertComplete, UpsertFailed, UpsertUnit,
)
from screener_crawler.storage.atomic import replace_atomically
from screener_crawler.storage.tables import by_ticker, empty_table

logger = logging.getLogger(__name__)

OPEN_UNITS_FILE = "open_units.pickle"
UPSERT = "*update*"
"""The key of an update's rows of a dataset, held for every ticker at once."""


class UnitCollectorPipeline:
    """Holds each (dataset, ticker)'s rows (Arrow tables, cut per ticker from each batch) until
    a ``UnitsComplete`` names it, then passes the whole units on as ``DatasetUnit``s, in one
    ``DatasetUnits``; a ``UnitFailed`` discards what was held. Rows of a market-wide listing by day are held per
    (dataset, partition) instead, until its ``PartitionComplete``, and passed on as one
    ``PartitionUnit``. Rows of an update's listing are held per dataset until its
    ``UpsertComplete`` and passed on as one ``UpsertUnit``.

    A unit settles once per crawl: the first completion or failure wins, and records or markers
    that arrive for it later (a second listing of the same unit, after a resume) are ignored, so
    a unit is never written from a partial listing. With JOBDIR, the units still open at a clean
    stop are saved there and picked up again on resume, beside Scrapy's own request queue.

    Items of one response reach this pipeline in the order the spider yielded them because
    every pipeline before it is synchronous; keep it that way.
    """

    def __init__(self, stats, jobdir):
        self._stats = stats
        self._state_file = Path(jobdir) / OPEN_UNITS_FILE if jobdir else None
        self._records = defaultdict(list)
        self._partitions = defaultdict(list)
        self._upserts = defaultdict(list)
        # dataset -> the tickers (partitions, UPSERT) settled: a set per dataset, not a pair per
        # unit, as a full universe has about 90,000 units
        self._settled = defaultdict(set)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats, job_dir(crawler.settings))

    def open_spider(self):
        if self._state_file and self._state_file.exists():
            with self._state_file.open("rb") as handle:
                state = pickle.load(handle)
            self._records.update(state["records"])
            self._partitions.update(state["partitions"])
            self._upserts.update(state.get("upserts", {}))
            for dataset, key in state["settled"]:
                self._settled[dataset].add(key)
            logger.info("Resuming %d open unit(s) from %s", len(self._records), self._state_file)

    def process_item(self, item):
        if isinstance(item, RecordBatch):
            self._hold(item)
            return item
        if isinstance(item, (UpsertComplete, UpsertFailed)):
            table = self._settle(self._upserts, (item.dataset, UPSERT))
            return UpsertUnit(item.dataset, table) if isinstance(item, UpsertComplete) else item
        if isinstance(item, (PartitionComplete, PartitionFailed)):
            table = self._settle(self._partitions, (item.dataset, item.partition))
            if isinstance(item, PartitionComplete):
                return PartitionUnit(item.dataset, item.partition, item.months_total, table)
            return item
        if isinstance(item, UnitsComplete):
            units = []
            for dataset, ticker in item.units:
                if self._is_settled((dataset, ticker)):
                    self._stats.inc_value("units/settled_twice")
                    continue
                units.append(DatasetUnit(dataset, ticker, self._settle(self._records, (dataset, ticker))))
                self._stats.inc_value(f"units/complete/{dataset}")
            if not units:
                raise DropItem(f"{item.units[:3]}... already settled in this crawl", log_level="DEBUG")
            return DatasetUnits(units)
        if isinstance(item, UnitFailed):
            self._settle(self._records, (item.dataset, item.ticker))
            self._stats.inc_value(f"units/failed/{item.dataset}")
            self._stats.inc_value(f"units/failed_reason/{item.reason}")
        return item

    def _hold(self, batch):
        if batch.upsert:
            if not self._is_settled((batch.dataset, UPSERT)):
                self._upserts[(batch.dataset, UPSERT)].append(batch.table)
            return
        if batch.partition is not None:
            pieces = [((batch.dataset, batch.partition), batch.table)]
        elif DATASETS[batch.dataset].per_ticker:
            pieces = [((batch.dataset, ticker), rows) for ticker, rows in by_ticker(batch.table)]
        else:
            pieces = [((batch.dataset, None), batch.table)]
        for key, table in pieces:
            held = self._partitions if batch.partition is not None else self._records
            if not self._is_settled(key):
                held[key].append(table)

    def _settle(self, held, key):
        """The rows held for ``key`` as one table, and ``key`` settled from now on; a second
        settlement is dropped."""
        tables = held.pop(key, [])
        if self._is_settled(key):
            self._stats.inc_value("units/settled_twice")
            raise DropItem(f"{key} already settled in this crawl", log_level="DEBUG")
        self._settled[key[0]].add(key[1])
        return pa.concat_tables(tables) if tables else empty_table(DATASETS[key[0]])

    def _is_settled(self, key: tuple) -> bool:
        dataset, unit = key
        return dataset in self._settled and unit in self._settled[dataset]

    def close_spider(self):
        if self._state_file:
            self._save_state()
        elif self._records or self._partitions:
            logger.warning("%d unit(s) and %d partition(s) were still incomplete when the crawl stopped; "
                           "nothing of them was written, and the next run redoes them",
                           len(self._records), len(self._partitions))
        self._stats.set_value("units/open_at_close", len(self._records) + len(self._partitions))

    def _save_state(self):
        state = {"records": dict(self._records), "partitions": dict(self._partitions), "upserts": dict(self._upserts),
                 "settled": [(dataset, key) for dataset, keys in self._settled.items() for key in keys]}
        replace_atomically(self._state_file, lambda temporary: temporary.write_bytes(pickle.dumps(state)))
