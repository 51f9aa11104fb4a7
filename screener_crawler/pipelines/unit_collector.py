import logging
from collections import defaultdict

from itemadapter import ItemAdapter

from screener_crawler.items import DatasetUnit, RecordItem, UnitComplete, UnitFailed

logger = logging.getLogger(__name__)


class UnitCollectorPipeline:
    """Holds each (dataset, ticker)'s records until its ``UnitComplete`` arrives, then passes
    the whole unit on as one ``DatasetUnit``; a ``UnitFailed`` discards what was held.

    Items of one response reach this pipeline in the order the spider yielded them because
    every pipeline before it is synchronous; keep it that way.
    """

    def __init__(self, stats):
        self._stats = stats
        self._records = defaultdict(list)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item):
        if isinstance(item, RecordItem):
            self._records[(item.dataset, item["ticker"])].append(ItemAdapter(item).asdict())
            return item
        if isinstance(item, UnitComplete):
            self._stats.inc_value(f"units/complete/{item.dataset}")
            return DatasetUnit(item.dataset, item.ticker, self._records.pop((item.dataset, item.ticker), []))
        if isinstance(item, UnitFailed):
            self._stats.inc_value(f"units/failed/{item.dataset}")
            self._records.pop((item.dataset, item.ticker), None)
        return item

    def close_spider(self):
        if self._records:
            logger.warning(
                "%d unit(s) were still incomplete when the crawl stopped; nothing of them was written",
                len(self._records),
            )
            self._stats.set_value("units/incomplete_at_close", len(self._records))
