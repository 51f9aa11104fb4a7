from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy_fieldstats.fieldstats import FieldStatsExtension

from screener_crawler.items import RecordBatch


class DatasetFieldCoverage:
    """scrapy-fieldstats' field coverage, kept per dataset: the crawl stats get
    ``fields_coverage/<dataset>`` = {column: "97.5%"} over that dataset's records."""

    def __init__(self, crawler):
        self._crawler = crawler
        self._per_dataset = {}

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("FIELDSTATS_ENABLED"):
            raise NotConfigured
        extension = cls(crawler)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def item_scraped(self, item):
        if isinstance(item, RecordBatch):
            if item.dataset not in self._per_dataset:
                self._per_dataset[item.dataset] = FieldStatsExtension(add_to_stats=False)
            for record in item.records:
                self._per_dataset[item.dataset].compute_item(record)

    def spider_closed(self):
        for dataset, field_stats in sorted(self._per_dataset.items()):
            self._crawler.stats.set_value(f"fields_coverage/{dataset}", field_stats.build_fields_summary())
