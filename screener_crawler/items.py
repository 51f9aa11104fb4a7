"""What spiders hand to the pipelines.

A page's records of one dataset travel together in a ``RecordBatch`` typed by its dataset, as
the plain dicts the parsers make, so a 10,000-row page costs one trip through the pipelines, not
10,000, and no object per record beyond its dict (a ``scrapy.Item`` per record was a third of the
reactor's time on grouped-daily pages). The other items carry the crawl's bookkeeping through the
same chain, in order: a unit (one dataset of one ticker) is written only after it is named in a
``UnitsComplete``, and counted done once named in a ``UnitsStaged``. A listing's units travel
together in those items, one per response: Scrapy starts ``CONCURRENT_ITEMS`` asyncio tasks
for every response, however few items it yields, so few items a response is what lets that
setting stay small.
"""

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass
class RecordBatch:
    """Records of one dataset from one page, in the order the API gave them: dicts of the
    dataset's column names, their values as parsed (``ValidationPipeline`` checks and coerces them).

    ``ValidationPipeline`` sets ``table``: the valid records as one Arrow table of the
    dataset's schema, which is what later pipelines hold and write; it empties ``records``, and
    counts ``invalid_columns``, one per record dropped. A page read by the page reader
    (``polygon/pages.py``) arrives with both already set.
    ``partition`` (year, month) marks records of a market-wide listing by day: they are held
    per partition, for every ticker at once, rather than per ticker. ``upsert`` marks records of
    an update's listing: held for the dataset as a whole until its ``UpsertComplete``.
    """

    dataset: str
    records: list = field(default_factory=list)
    partition: tuple | None = None
    upsert: bool = False
    table: pa.Table | None = None
    invalid_columns: list = field(default_factory=list)


@dataclass
class UnitsComplete:
    """Every page of these (dataset, ticker) units has been parsed: they may be written."""

    units: tuple


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


@dataclass
class DatasetUnits:
    """Complete units of one response, each with all its records, ready to be staged."""

    units: list
    """``DatasetUnit``s."""


@dataclass
class UnitsFailed:
    """Units of one response that failed together (the disk filled as they were staged)."""

    failures: list
    """``UnitFailed``s."""


def failures_of(item: object) -> list[UnitFailed]:
    """The ``UnitFailed``s an item carries: itself, those of a ``UnitsFailed``, or none."""
    if isinstance(item, UnitsFailed):
        return item.failures
    return [item] if isinstance(item, UnitFailed) else []


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
class PartitionStaged:
    """A partition of a market-wide listing is durable in the staging area."""

    dataset: str
    partition: tuple
    months_total: int
    rows_by_ticker: dict


@dataclass
class UnitStaged:
    """A unit durable in the staging area."""

    dataset: str
    ticker: str | None
    rows: int
    duplicates: int = 0


@dataclass
class UnitsStaged:
    """Units durable in the staging area: the ledger may count them as done."""

    units: list
    """``UnitStaged``s."""


@dataclass
class TickersRenamed:
    """Tickers the universe now lists under another symbol (old -> new, matched by composite
    FIGI): the old symbol's rows leave every dataset, other tickers' related tickers name the new
    one, and the new symbol's history is downloaded as a new ticker's."""

    renames: dict


@dataclass
class UpsertComplete:
    """Every page of an update's market-wide listing of ``dataset`` (the rows since the last
    complete crawl) has been parsed: its rows may be upserted by natural key."""

    dataset: str


@dataclass
class UpsertFailed:
    """An update's listing of ``dataset`` failed for good: none of its rows is written, and the
    dataset stays as current as it was."""

    dataset: str
    reason: str


@dataclass
class UpsertUnit:
    """All validated rows of an update's listing of ``dataset``, ready to be upserted."""

    dataset: str
    table: pa.Table


@dataclass
class UpsertStaged:
    """An update's rows of ``dataset`` are durable in the staging area; ``tickers`` are those
    the rows touch."""

    dataset: str
    tickers: frozenset
    rows: int
