"""Field coverage per dataset: scrapy-fieldstats' extension, fed our record batches."""

import logging
import pprint
from collections import Counter

from scrapy_fieldstats.fieldstats import FieldStatsExtension

from screener_crawler.items import RecordBatch

logger = logging.getLogger(__name__)


class DatasetFieldStats(FieldStatsExtension):
    """scrapy-fieldstats' ``FieldStatsExtension`` with its settings as its README gives them
    (``FIELDSTATS_ENABLED``, ``FIELDSTATS_COUNTS_ONLY``, ``FIELDSTATS_SKIP_NONE``,
    ``FIELDSTATS_ADD_TO_STATS``), counting per dataset: the stats get
    ``fields_coverage/<dataset>`` = {column: "97.5%"}, the share of the dataset's valid rows
    with a value in that column (with ``FIELDSTATS_COUNTS_ONLY``, the number of such rows).

    Items are ``RecordBatch``es, a page of rows as one Arrow table: a column's values are
    counted from its null count, never row by row, since a grouped-daily crawl validates tens of
    millions of bars. Other items (the crawl's bookkeeping) are not records and are not counted.

    The report is logged at DEBUG, not at INFO as the package does: at a hundred columns a
    dataset it would be most of the crawl's log. The crawl's stats file holds it.
    """

    def __init__(self, show_counts: bool = False, skip_none: bool = True, add_to_stats: bool = True):
        super().__init__(show_counts, skip_none, add_to_stats)
        self.rows_by_dataset = Counter()

    def compute_item(self, item) -> None:
        table = item.table if isinstance(item, RecordBatch) else None
        if table is None or not table.num_rows:
            return
        rows = table.num_rows
        self.item_count += rows
        self.rows_by_dataset[item.dataset] += rows
        counts = self.field_counts.setdefault(item.dataset, Counter())
        for name, column in zip(table.column_names, table.columns):
            counts[name] += rows - column.null_count if self.skip_none else rows

    def build_fields_summary(self, field_counts=None, fields_summary=None) -> dict[str, dict[str, str]]:
        """Dataset -> column -> share of the dataset's rows with a value, as "97.5%"."""
        return {dataset: {name: f"{100 * count / self.rows_by_dataset[dataset]:.1f}%"
                          for name, count in counts.items()}
                for dataset, counts in self.field_counts.items()}

    def spider_closed(self, spider) -> None:
        report = ({dataset: dict(counts) for dataset, counts in self.field_counts.items()}
                  if self.show_counts else self.build_fields_summary())
        logger.debug("Field stats:\n%s", pprint.pformat(report))
        if self.add_to_stats:
            for dataset, fields in sorted(report.items()):
                spider.crawler.stats.set_value(f"fields_coverage/{dataset}", fields)
