from datetime import datetime, timezone

from scrapy.utils.asyncio import run_in_thread

from screener_crawler.connection import data_root
from screener_crawler.datasets import DATASETS
from screener_crawler.items import DatasetUnit, UnitWritten
from screener_crawler.storage import write_unit


class ParquetWriterPipeline:
    """Writes each complete ``DatasetUnit`` as that ticker's Hive-partitioned Parquet files,
    in a thread so the reactor keeps crawling, and passes on a ``UnitWritten`` summary."""

    def __init__(self, root, stats):
        self._root = root
        self._stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(data_root(crawler.settings), crawler.stats)

    async def process_item(self, item):
        if not isinstance(item, DatasetUnit):
            return item
        downloaded_at = datetime.now(timezone.utc)
        result = await run_in_thread(
            write_unit, self._root, DATASETS[item.dataset], item.ticker, item.records, downloaded_at
        )
        self._stats.inc_value(f"parquet/units_written/{item.dataset}")
        self._stats.inc_value(f"parquet/rows_written/{item.dataset}", result.rows)
        self._stats.inc_value("parquet/files_written", result.files)
        if result.duplicates:
            self._stats.inc_value(f"parquet/duplicates_dropped/{item.dataset}", result.duplicates)
        return UnitWritten(item.dataset, item.ticker, result.rows, result.duplicates, result.files)
