"""What spiders hand to the pipelines.

Record items are typed per dataset, their fields derived from the dataset's schema; a page's
records of one dataset travel together in a ``RecordBatch``, so a 50,000-row page costs one trip
through the pipelines, not 50,000. The other items carry the crawl's bookkeeping through the
same chain, in order: a unit (one dataset of one ticker) is written only after its
``UnitComplete`` arrives.
"""

from dataclasses import dataclass, field

import pyarrow as pa
import scrapy

from screener_crawler.datasets import DATASETS, DOWNLOADED_AT


class RecordItem(scrapy.Item):
    """One row of a dataset, as parsed; ``ValidationPipeline`` coerces it to the schema."""

    dataset: str = ""


def _record_item_class(dataset, class_name):
    fields = {
        column: scrapy.Field()
        for column in DATASETS[dataset].columns
        if column != DOWNLOADED_AT.name
    }
    return type(class_name, (RecordItem,), {"dataset": dataset, **fields})


BalanceSheetItem = _record_item_class("balance_sheets", "BalanceSheetItem")
IncomeStatementItem = _record_item_class("income_statements", "IncomeStatementItem")
CashFlowItem = _record_item_class("cash_flow", "CashFlowItem")
DividendItem = _record_item_class("dividends", "DividendItem")
SplitItem = _record_item_class("splits", "SplitItem")
TickerEventItem = _record_item_class("ticker_events", "TickerEventItem")
RelatedTickerItem = _record_item_class("related_tickers", "RelatedTickerItem")
DailyPriceItem = _record_item_class("daily_prices", "DailyPriceItem")
UniverseItem = _record_item_class("universe", "UniverseItem")

RECORD_ITEMS = {cls.dataset: cls for cls in RecordItem.__subclasses__()}


@dataclass
class RecordBatch:
    """Records of one dataset from one page, in the order the API gave them.

    ``ValidationPipeline`` sets ``table``: the valid records as one Arrow table of the
    dataset's schema, which is what later pipelines hold and write; it empties ``records``.
    ``partition`` (year, month) marks records of a market-wide listing by day: they are held
    per partition, for every ticker at once, rather than per ticker.
    """

    dataset: str
    records: list = field(default_factory=list)
    partition: tuple | None = None
    table: pa.Table | None = None


@dataclass
class UnitComplete:
    """Every page of (dataset, ticker) has been parsed: the unit may be written."""

    dataset: str
    ticker: str


@dataclass
class UnitFailed:
    """A request of (dataset, ticker) failed for good: nothing of the unit is written."""

    dataset: str
    ticker: str
    reason: str


@dataclass
class DatasetUnit:
    """All validated records of one (dataset, ticker) as one table, ready to be written."""

    dataset: str
    ticker: str
    table: pa.Table

    @property
    def records(self):
        return self.table.to_pylist()


@dataclass
class PartitionComplete:
    """Every day of a (year, month) partition has been listed market-wide; ``months_total`` is
    how many partitions the listing has in all."""

    dataset: str
    partition: tuple
    months_total: int


@dataclass
class PartitionFailed:
    dataset: str
    partition: tuple
    reason: str


@dataclass
class PartitionUnit:
    """All validated records of one (dataset, year, month) partition, every ticker."""

    dataset: str
    partition: tuple
    months_total: int
    table: pa.Table


@dataclass
class PartitionWritten:
    dataset: str
    partition: tuple
    months_total: int
    rows_by_ticker: dict


@dataclass
class UnitWritten:
    dataset: str
    ticker: str
    rows: int
    duplicates: int
    files: int


@dataclass
class RatiosDue:
    """A ticker's ratio inputs are settled: compute and write its ``financial_ratios`` unit."""

    ticker: str
