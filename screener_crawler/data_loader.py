"""Read what the crawler wrote as pandas DataFrames (DESIGN §5).

    from screener_crawler.data_loader import DataLoader

    loader = DataLoader()                      # the data root a crawl writes to
    prices = loader.load("daily_prices", tickers=["AAPL", "MSFT"], start="2024-01-01",
                         columns=["ticker", "date", "close"])

Filters are pushed down to pyarrow: ``start``/``end`` prune ``year=``/``month=`` partitions before
any file is opened, ``tickers`` becomes a ``ticker`` isin filter that skips the row groups whose
statistics rule the tickers out (rows are sorted by ticker in every file), and ``columns`` reads
only those columns.
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from screener_crawler import settings as project_settings
from screener_crawler.connection import DEFAULT_DATA_DIR, SANDBOX_DATA_DIR, project_path
from screener_crawler.datasets import DATASETS
from screener_crawler.ratios.compute import per_share_on_basis_of, reprice
from screener_crawler.ratios.latest import latest_rows, read_latest
from screener_crawler.storage.layout import LOCAL_PARQUET

PARTITIONING = ds.partitioning(pa.schema([("year", pa.int32()), ("month", pa.int32())]),
                               flavor="hive")
PARTITION_COLUMNS = ("year", "month")
ASOF_PRICE_DAYS = 14
"""How far back ``ratios_asof`` looks for a ticker's last close."""
ASOF_MAX_AGE_DAYS = 400
"""How old (days from ``available_date`` to the day asked for) a row ``ratios_asof`` returns may
be by default: a listed company files every quarter and its annual report within about three
months of its year end, so a newer row is always there; a ticker delisted more than about a
year before the day has none, and is left out instead of screening on its last, stale row."""

DateLike = date | datetime | str
"""A day: a ``date``, a ``datetime`` (its date) or an ISO date string (``YYYY-MM-DD``)."""
Names = str | Iterable[str]
"""Tickers or columns: one name, or several."""


def default_root(sandbox: bool = False) -> Path:
    """The data root a crawl writes to: ``SCREENER_DATA_DIR`` when set, else
    ``data/partitioned_screener`` (``data/sandbox/partitioned_screener`` with ``sandbox``)."""
    default = SANDBOX_DATA_DIR if sandbox else DEFAULT_DATA_DIR
    return project_path(project_settings.SCREENER_DATA_DIR or default)


class DataLoader:
    """Loads datasets from ``root`` (default: ``default_root(sandbox)``)."""

    def __init__(self, root: Path | str | None = None, sandbox: bool = False):
        self.root = project_path(root) if root is not None else default_root(sandbox)

    def load(self, dataset: str, tickers: Names | None = None, start: DateLike | None = None,
             end: DateLike | None = None, columns: Names | None = None) -> pd.DataFrame:
        """Rows of ``dataset`` as a pandas DataFrame, with the dataset's declared columns (or
        ``columns``, in that order; ``year``/``month`` only when asked for).

        ``tickers``: only these tickers. ``start``/``end``: inclusive bounds (``date``,
        ``datetime`` or ISO string) on the dataset's partition date (``filing_date`` for the
        statements, ``date`` for prices, ...); an error for datasets without one.

        A dataset that has not been downloaded (no folder under the root) gives an empty
        DataFrame with the requested columns, not an exception.
        """
        spec = _dataset(dataset)
        columns = _columns(spec, columns)
        start, end = _as_date(start, "start"), _as_date(end, "end")
        if spec.partition_date is None and (start is not None or end is not None):
            raise ValueError(f"{dataset} has no partition date, so start/end cannot apply; "
                             f"datasets with one: {', '.join(_dated_datasets())}")
        if start is not None and end is not None and start > end:
            raise ValueError(f"start {start} is after end {end}")

        return self._read(spec, tickers, start, end, columns)

    def _read(self, spec, tickers, start, end, columns, where=None):
        """``load``'s reading, with ``where`` (a pyarrow expression) pushed down as well."""
        return self._scan(spec, tickers, start, end, columns, where).to_pandas()

    def load_table(self, dataset: str, start: DateLike | None = None, end: DateLike | None = None,
                   columns: Names | None = None, where: ds.Expression | None = None) -> pa.Table:
        """``load`` as a pyarrow Table, without tickers but with ``where`` (a pyarrow expression,
        such as a range of tickers, which prunes row groups by their statistics) pushed down."""
        spec = _dataset(dataset)
        return self._scan(spec, None, _as_date(start, "start"), _as_date(end, "end"), _columns(spec, columns), where)

    def _scan(self, spec, tickers, start, end, columns, where=None):
        """``_read`` as a pyarrow Table."""
        dataset = self._dataset(spec, tickers)
        if dataset is None:
            return _empty_table(spec, columns)
        row_filter = _row_filter(spec, tickers, start, end)
        if where is not None:
            row_filter = where if row_filter is None else row_filter & where
        return dataset.to_table(columns=columns, filter=row_filter)

    def load_financial_ratios(self, tickers: Names | None = None, start: DateLike | None = None,
                              end: DateLike | None = None, columns: Names | None = None) -> pd.DataFrame:
        """``load("financial_ratios", ...)``: the ratios computed from the statements and prices;
        ``start``/``end`` bound ``filing_date``."""
        if "financial_ratios" not in DATASETS:
            raise ValueError("the financial_ratios dataset is not declared in "
                             "screener_crawler.datasets yet, so it cannot be loaded")
        return self.load("financial_ratios", tickers, start, end, columns)

    def latest_ratios(self, tickers: Names | None = None, timeframe: str = "trailing_twelve_months",
                      columns: Names | None = None) -> pd.DataFrame:
        """The screener cross-section: per ticker, its latest ``financial_ratios`` row of
        ``timeframe`` (latest ``period_end``, then latest ``filing_date``), valued as the crawl
        valued it (at the close of its ``available_date``; ``ratios_asof`` re-prices).

        It reads the one cross-section file the ratio pipeline keeps (``ratios/latest.py``);
        for data written before that file existed, it falls back to reading the dataset."""
        spec = DATASETS["financial_ratios"]
        columns = _columns(spec, columns)
        unknown = sorted(set(columns) - set(spec.columns))
        if unknown:
            raise ValueError(f"latest_ratios has the dataset's own columns only, not {unknown}")
        table = read_latest(self.root, None if tickers is None else _ticker_list(tickers), timeframe, columns)
        if table is not None:
            return table.to_pandas()
        keys = ["ticker", "period_end", "filing_date"]
        rows = self._read(spec, tickers, None, None, list(dict.fromkeys([*keys, *columns])),
                          where=ds.field("timeframe") == timeframe)
        rows = rows.sort_values(keys, kind="stable").groupby("ticker", sort=True).tail(1)
        return rows[columns].reset_index(drop=True)

    def ratios_asof(self, date: DateLike, tickers: Names | None = None, timeframe: str = "trailing_twelve_months",
                    max_age_days: int | None = ASOF_MAX_AGE_DAYS) -> pd.DataFrame:
        """The screener as of ``date``: per ticker, its latest ``financial_ratios`` row of
        ``timeframe`` usable on that date (``available_date <= date``; latest ``period_end``,
        then latest ``filing_date``), with the valuation ratios recomputed at the last close on
        or before ``date`` (within ``ASOF_PRICE_DAYS``; else null), the share counts and the
        ratios in USD per share on that day's split basis. Nothing filed after ``date`` is read,
        and no later split shows. Rows that became available more
        than ``max_age_days`` before ``date`` are left out (``ASOF_MAX_AGE_DAYS``: tickers
        delisted long before drop out); None keeps every ticker's latest row however old.

        Two reads: the key columns of every usable row (partitions up to ``date``), then the
        full rows of the chosen ones only (the partitions of their filing months, the row
        groups of their tickers)."""
        day = _as_date(date, "date")
        if day is None:
            raise ValueError("date must be a date, a datetime or an ISO date string (YYYY-MM-DD), not None")
        if max_age_days is not None and (isinstance(max_age_days, bool) or not isinstance(max_age_days, int)
                                         or max_age_days < 0):
            raise ValueError(f"max_age_days must be a whole number of days >= 0, or None; got {max_age_days!r}")
        spec = DATASETS["financial_ratios"]
        usable = (ds.field("timeframe") == timeframe) & (ds.field("available_date") <= pa.scalar(day, pa.date32()))
        if max_age_days is not None:
            usable &= ds.field("available_date") >= pa.scalar(day - timedelta(days=max_age_days), pa.date32())
        keys = ["ticker", "period_end", "filing_date"]
        candidates = self._scan(spec, tickers, None, day, ["ticker", "timeframe", "period_end", "filing_date"],
                                where=usable)
        chosen = latest_rows(candidates).select(keys).to_pandas()
        if chosen.empty:
            return _empty_frame(spec, list(spec.columns))
        rows = self._read(spec, None, None, None, list(spec.columns), where=usable & _chosen_rows(chosen))
        rows = rows.merge(chosen, on=keys).sort_values("ticker", kind="stable").reset_index(drop=True)
        if rows.empty:  # the data changed between the two reads
            return _empty_frame(spec, list(spec.columns))
        names = sorted(set(rows["ticker"]))
        prices = self.load("daily_prices", names, start=day - timedelta(days=ASOF_PRICE_DAYS), end=day,
                           columns=["ticker", "date", "close"]).dropna(subset=["close"])
        last = prices.sort_values("date").groupby("ticker").tail(1).set_index("ticker")
        splits = self.load("splits", names, start=min(rows["filing_date"]) + timedelta(days=1), end=day,
                           columns=["ticker", "execution_date", "split_from", "split_to"])
        close = rows["ticker"].map(last["close"]).astype("float64")
        price_date = rows["ticker"].map(last["date"])
        return per_share_on_basis_of(reprice(rows, close, price_date, splits), day, splits)

    def _dataset(self, spec, tickers):
        """A pyarrow dataset over ``spec``'s partition files, or None when there is nothing on
        disk."""
        base = self.root / spec.name
        if not base.is_dir():
            return None
        if spec.partition_date is None:
            return ds.dataset(base, schema=spec.schema, format=LOCAL_PARQUET)
        return ds.dataset(base, schema=_with_partition_columns(spec.schema), format=LOCAL_PARQUET,
                          partitioning=PARTITIONING)


def _dataset(name):
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return DATASETS[name]


def _dated_datasets():
    return [name for name, spec in DATASETS.items() if spec.partition_date is not None]


def _columns(spec, columns):
    valid = list(spec.columns)
    if spec.partition_date is not None:
        valid += PARTITION_COLUMNS
    if columns is None:
        return list(spec.columns)
    if isinstance(columns, str):
        columns = [columns]
    columns = list(columns)
    unknown = [column for column in columns if column not in valid]
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(map(repr, unknown))} for {spec.name}; "
                         f"valid columns: {', '.join(valid)}")
    return columns


def _as_date(value, name):
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            pass
    raise ValueError(f"{name} must be a date, a datetime or an ISO date string (YYYY-MM-DD), "
                     f"not {value!r}")


def _ticker_list(tickers):
    if isinstance(tickers, str):
        return [tickers]
    return list(tickers)


def _ticker_values(tickers):
    """``tickers`` as a string array for ``isin`` (typed, so that no tickers is an empty set
    of strings rather than a type error)."""
    return pa.array(_ticker_list(tickers), pa.string())


def _chosen_rows(chosen):
    """An expression selecting, in each filing month of ``chosen`` (a frame of ``ticker`` and
    ``filing_date``), the rows of the tickers chosen there: partitions of other months are never
    opened, and row groups without those tickers are skipped."""
    months = {}
    for ticker, filed in zip(chosen["ticker"], chosen["filing_date"]):
        months.setdefault((filed.year, filed.month), []).append(ticker)
    expression = None
    for (year, month), names in sorted(months.items()):
        one = (ds.field("year") == year) & (ds.field("month") == month) & ds.field("ticker").isin(_ticker_values(names))
        expression = one if expression is None else expression | one
    return expression


def _with_partition_columns(schema):
    return schema.append(pa.field("year", pa.int32())).append(pa.field("month", pa.int32()))


def _month_at_or_after(day):
    year, month = ds.field("year"), ds.field("month")
    return (year > day.year) | ((year == day.year) & (month >= day.month))


def _month_at_or_before(day):
    year, month = ds.field("year"), ds.field("month")
    return (year < day.year) | ((year == day.year) & (month <= day.month))


def _row_filter(spec, tickers, start, end):
    """One pyarrow expression: ticker membership, the months that can hold [start, end] (this
    part prunes partitions), and the exact bounds on the partition date."""
    conditions = []
    if tickers is not None:
        conditions.append(ds.field("ticker").isin(_ticker_values(tickers)))
    if start is not None:
        conditions.append(_month_at_or_after(start))
        conditions.append(ds.field(spec.partition_date) >= pa.scalar(start, pa.date32()))
    if end is not None:
        conditions.append(_month_at_or_before(end))
        conditions.append(ds.field(spec.partition_date) <= pa.scalar(end, pa.date32()))
    if not conditions:
        return None
    expression = conditions[0]
    for condition in conditions[1:]:
        expression = expression & condition
    return expression


def _empty_table(spec, columns):
    schema = _with_partition_columns(spec.schema) if spec.partition_date else spec.schema
    return schema.empty_table().select(columns)


def _empty_frame(spec, columns):
    return _empty_table(spec, columns).to_pandas()


__all__ = ["DataLoader", "default_root"]
