from collections import Counter

from scrapy import signals
from scrapy.exceptions import NotConfigured

from screener_crawler.items import RecordBatch


class DatasetFieldCoverage:
    """Field coverage per dataset in the format of scrapy-fieldstats: the crawl stats get
    ``fields_coverage/<dataset>`` = {column: "97.5%"}, the share of valid records with a value
    in that column. Counted from each batch's Arrow table (its null counts), not record by
    record: a grouped-daily crawl validates tens of millions of bars."""

    def __init__(self, crawler):
        self._crawler = crawler
        self._rows = Counter()
        self._values = {}

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("SCREENER_FIELD_COVERAGE"):
            raise NotConfigured
        extension = cls(crawler)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def item_scraped(self, item):
        if not isinstance(item, RecordBatch) or item.table is None or not item.table.num_rows:
            return
        table = item.table
        self._rows[item.dataset] += table.num_rows
        values = self._values.setdefault(item.dataset, Counter())
        for name, column in zip(table.column_names, table.columns):
            values[name] += len(column) - column.null_count

    def spider_closed(self):
        for dataset, values in sorted(self._values.items()):
            rows = self._rows[dataset]
            coverage = {name: f"{100 * count / rows:.1f}%" for name, count in values.items()}
            self._crawler.stats.set_value(f"fields_coverage/{dataset}", coverage)
