"""Every dataset the crawler writes, declared once: columns and types, natural key, partitioning.

The storage contract (DESIGN §3) follows from these declarations: one fixed Arrow schema per
dataset (same columns, order and types in every file), ``year``/``month`` only in the path,
``ticker`` and ``downloaded_at`` on every row. Pipelines, the Parquet writer, ``scrapy status``
and the DataLoader all read from here.
"""

from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa

from screener_crawler.polygon.fields import (
    STATEMENT_PERIOD_FIELDS,
    STATEMENT_SOURCE_FIELDS,
    STATEMENTS,
    TICKER_FIELD,
    statement_line_items,
)
from screener_crawler.ratios.compute import BASIS_FIELDS as RATIO_BASIS_FIELDS
from screener_crawler.ratios.compute import IDENTITY_FIELDS as RATIO_IDENTITY_FIELDS
from screener_crawler.ratios.compute import RATIO_FIELDS, RATIOS_NATURAL_KEY

DOWNLOADED_AT = pa.field("downloaded_at", pa.timestamp("us", tz="UTC"), nullable=False)


@dataclass(frozen=True)
class Dataset:
    name: str
    schema: pa.Schema
    natural_key: tuple
    partition_date: str | None
    """Date column whose year and month name the Hive partition; None for one file per ticker."""
    required: tuple = ()
    """Columns a record must carry to be written at all."""
    per_ticker: bool = True
    """Written one unit per ticker; False for a market-wide table in one file (the universe)."""
    opt_in: bool = False
    """Downloaded by the ``screener`` crawl only when asked for (``-a <name>=1``), as it costs a
    request per ticker that a screen rarely needs."""
    newest_by: str | None = None
    """A column whose latest value wins among rows of one natural key (a listing the API repeats
    with an older ``last_updated_utc``); None keeps the first row that arrived."""
    row_group_rows: int = 32_768
    """Rows per Parquet row group: rows are sorted by ticker, so a reader asking for a few
    tickers decodes only the groups whose statistics can hold them."""

    @cached_property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.names)

    @cached_property
    def column_set(self) -> frozenset[str]:
        """The column names, for membership tests on every field of every record."""
        return frozenset(self.schema.names)

    @cached_property
    def null_counted(self) -> tuple[bool, ...]:
        """Per column, whether its nulls are counted (coverage): not for nested columns, whose
        footer statistics count leaf values, not rows."""
        return tuple(not pa.types.is_nested(field.type) for field in self.schema)


def _schema(*fields):
    return pa.schema([*fields, DOWNLOADED_AT])


STATEMENT_ROW_GROUP_ROWS = 2048
"""A month of statements holds a few rows per ticker, each of 60-80 columns: a group of 2,048
rows spans about a third of the universe's tickers, so one ticker's history decodes a third of
each month. Smaller groups read little faster and make each file's parsed footer bigger
(``bench/README.md``)."""


def _statement_dataset(name):
    identity = [
        TICKER_FIELD,
        pa.field("cik", pa.string()),
        pa.field("tickers", pa.list_(pa.field("element", pa.string()))),
        pa.field("company_name", pa.string()),
        *STATEMENT_PERIOD_FIELDS,
        pa.field("source", pa.string(), nullable=False),
        *STATEMENT_SOURCE_FIELDS,
    ]
    values = [pa.field(column, pa.float64()) for column in statement_line_items(name)]
    return Dataset(
        name=name,
        schema=_schema(*identity, *values),
        natural_key=("ticker", "timeframe", "period_end", "filing_date"),
        partition_date="filing_date",
        required=("ticker", "timeframe", "period_end", "filing_date", "source"),
        row_group_rows=STATEMENT_ROW_GROUP_ROWS,
    )


UNIVERSE_LISTING_KEY = ("ticker", "cik", "composite_figi", "delisted_utc")
"""One row per listing: tickers are reused, so a symbol alone (or with ``active``) would merge
two companies that held it; the CIK and composite FIGI tell them apart, the delisting date the
listings of one company."""


DATASETS = {
    **{name: _statement_dataset(name) for name in STATEMENTS},
    "dividends": Dataset(
        name="dividends",
        schema=_schema(
            TICKER_FIELD,
            pa.field("id", pa.string()),
            pa.field("cash_amount", pa.float64()),
            pa.field("split_adjusted_cash_amount", pa.float64()),
            pa.field("historical_adjustment_factor", pa.float64()),
            pa.field("currency", pa.string()),
            pa.field("declaration_date", pa.date32()),
            pa.field("ex_dividend_date", pa.date32(), nullable=False),
            pa.field("record_date", pa.date32()),
            pa.field("pay_date", pa.date32()),
            pa.field("frequency", pa.int64()),
            pa.field("distribution_type", pa.string()),
            pa.field("dividend_type", pa.string()),
            pa.field("source", pa.string(), nullable=False),
        ),
        natural_key=("ticker", "ex_dividend_date", "cash_amount", "pay_date"),
        partition_date="ex_dividend_date",
        required=("ticker", "ex_dividend_date", "source"),
    ),
    "splits": Dataset(
        name="splits",
        schema=_schema(
            TICKER_FIELD,
            pa.field("id", pa.string()),
            pa.field("execution_date", pa.date32(), nullable=False),
            pa.field("split_from", pa.float64()),
            pa.field("split_to", pa.float64()),
            pa.field("adjustment_type", pa.string()),
            pa.field("historical_adjustment_factor", pa.float64()),
            pa.field("source", pa.string(), nullable=False),
        ),
        natural_key=("ticker", "execution_date", "split_from", "split_to"),
        partition_date="execution_date",
        required=("ticker", "execution_date", "source"),
    ),
    "ticker_events": Dataset(
        name="ticker_events",
        schema=_schema(
            TICKER_FIELD,
            pa.field("date", pa.date32(), nullable=False),
            pa.field("event_type", pa.string(), nullable=False),
            pa.field("new_ticker", pa.string()),
            pa.field("name", pa.string()),
            pa.field("composite_figi", pa.string()),
            pa.field("cik", pa.string()),
        ),
        natural_key=("ticker", "date", "event_type", "new_ticker"),
        partition_date="date",
        required=("ticker", "date", "event_type"),
    ),
    "related_tickers": Dataset(
        name="related_tickers",
        schema=_schema(
            TICKER_FIELD,
            pa.field("related_ticker", pa.string(), nullable=False),
            pa.field("rank", pa.int64()),
        ),
        natural_key=("ticker", "related_ticker"),
        partition_date=None,
        required=("ticker", "related_ticker"),
    ),
    "ticker_details": Dataset(
        name="ticker_details",
        schema=_schema(
            TICKER_FIELD,
            pa.field("name", pa.string()),
            pa.field("cik", pa.string()),
            pa.field("sic_code", pa.string()),
            pa.field("sic_description", pa.string()),
            pa.field("share_class_shares_outstanding", pa.int64()),
            pa.field("weighted_shares_outstanding", pa.int64()),
            pa.field("market_cap", pa.float64()),
            pa.field("list_date", pa.date32()),
            pa.field("homepage_url", pa.string()),
            pa.field("total_employees", pa.int64()),
            pa.field("ticker_root", pa.string()),
            pa.field("ticker_suffix", pa.string()),
        ),
        natural_key=("ticker",),
        partition_date=None,
        required=("ticker",),
        opt_in=True,
    ),
    "daily_prices": Dataset(
        name="daily_prices",
        schema=_schema(
            TICKER_FIELD,
            pa.field("date", pa.date32(), nullable=False),
            pa.field("open", pa.float64()),
            pa.field("high", pa.float64()),
            pa.field("low", pa.float64()),
            pa.field("close", pa.float64()),
            pa.field("volume", pa.float64()),
            pa.field("vwap", pa.float64()),
            pa.field("transactions", pa.int64()),
            pa.field("adjusted", pa.bool_()),
        ),
        natural_key=("ticker", "date"),
        partition_date="date",
        required=("ticker", "date"),
    ),
    "financial_ratios": Dataset(
        name="financial_ratios",
        schema=_schema(*RATIO_IDENTITY_FIELDS, *RATIO_FIELDS, *RATIO_BASIS_FIELDS),
        natural_key=RATIOS_NATURAL_KEY,
        partition_date="filing_date",
        required=("ticker", "timeframe", "period_end", "filing_date", "available_date"),
    ),
    "universe": Dataset(
        name="universe",
        schema=_schema(
            TICKER_FIELD,
            pa.field("name", pa.string()),
            pa.field("active", pa.bool_()),
            pa.field("market", pa.string()),
            pa.field("locale", pa.string()),
            pa.field("type", pa.string()),
            pa.field("primary_exchange", pa.string()),
            pa.field("currency_name", pa.string()),
            pa.field("cik", pa.string()),
            pa.field("composite_figi", pa.string()),
            pa.field("share_class_figi", pa.string()),
            pa.field("last_updated_utc", pa.timestamp("us", tz="UTC")),
            pa.field("delisted_utc", pa.timestamp("us", tz="UTC")),
        ),
        natural_key=UNIVERSE_LISTING_KEY,
        partition_date=None,
        required=("ticker",),
        per_ticker=False,
        newest_by="last_updated_utc",
    ),
}

OPT_IN_DATASETS = tuple(name for name, dataset in DATASETS.items() if dataset.opt_in)
TICKER_DATASETS = tuple(name for name, dataset in DATASETS.items() if dataset.per_ticker and not dataset.opt_in)
"""The per-ticker datasets a ``screener`` crawl downloads unless told otherwise."""

DERIVED_DATASETS = {
    "financial_ratios_latest": Dataset(
        name="financial_ratios_latest",
        schema=DATASETS["financial_ratios"].schema,
        natural_key=("ticker", "timeframe"),
        partition_date=None,
        required=DATASETS["financial_ratios"].required,
    ),
}
"""Written by the crawler from other datasets, never downloaded: each ticker's latest
``financial_ratios`` row per timeframe, the screener's cross-section in one file."""

STORED_DATASETS = {**DATASETS, **DERIVED_DATASETS}
