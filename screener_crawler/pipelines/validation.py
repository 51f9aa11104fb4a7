import asyncio
import logging
import math

from screener_crawler.coercion import coerce_records
from screener_crawler.items import RecordBatch
from screener_crawler.work_threads import VALIDATION, run_on

logger = logging.getLogger(__name__)


class ValidationPipeline:
    """Coerces each record of a batch to its dataset's schema and gives the batch its valid
    records as one Arrow table; a record that does not fit is dropped and counted
    (``validation/dropped/<dataset>``), never written half-typed.

    A batch of ``SCREENER_VALIDATE_IN_THREAD_ROWS`` records or more (a grouped-daily page) is
    coerced in a thread, so the reactor is not held for the tens of milliseconds it takes. A
    batch of a page read by the page reader (``polygon/pages.py``) arrives coerced; only its
    dropped records are counted here. Items still leave this pipeline in the order they came: a
    unit's completion marker must never overtake the last batch of its rows.
    """

    def __init__(self, stats, thread_rows=math.inf):
        self._stats = stats
        self._thread_rows = thread_rows
        self._in_order = asyncio.Lock()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats, crawler.settings.getint("SCREENER_VALIDATE_IN_THREAD_ROWS"))

    async def process_item(self, item):
        async with self._in_order:
            if isinstance(item, RecordBatch):
                if item.table is None:
                    coerced = (await run_on(VALIDATION, coerce_records, item.dataset, item.records)
                               if len(item.records) >= self._thread_rows
                               else coerce_records(item.dataset, item.records))
                    item.table, item.invalid_columns = coerced
                item.records = []
                for column in item.invalid_columns:
                    self._stats.inc_value(f"validation/dropped/{item.dataset}")
                    self._stats.inc_value(f"validation/invalid_column/{item.dataset}/{column}")
        return item

    def close_spider(self):
        dropped = {
            key.rsplit("/", 1)[1]: count
            for key, count in self._stats.get_stats().items()
            if key.startswith("validation/dropped/")
        }
        if dropped:
            logger.warning("Records dropped by schema validation: %s (see validation/* stats)", dropped)
