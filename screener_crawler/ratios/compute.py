"""The rows of ``financial_ratios`` from statements, prices and splits (of one ticker or many at
once), and the valuation ratios of stored rows re-priced on another day. Pure functions over
pandas frames.

A row is usable from ``available_date``: the first trading day after ``filing_date`` (the first
day after it with a bar of the ticker; the exchange's next trading day when no later bar exists). Its valuation
ratios use the close on that day; the statement's share counts (on the split basis of its
filing date) are put on that day's split basis (``F``), since the bars are as traded
(unadjusted). Ratios in USD per share are put on the split basis of the latest split in
``splits``, as split-adjusted prices are, so that a ticker's per-share series is continuous
across its splits.
"""

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from screener_crawler.polygon.fields import STATEMENT_PERIOD_FIELDS, TICKER_FIELD
from screener_crawler.ratios.catalogue import ALIAS_BY_NAME, RATIOS, USD_PER_SHARE, VALUATION_RATIOS, Ratio, finite
from screener_crawler.ratios.periods import (
    SHARES_NOT_POSITIVE,
    VALUE_COLUMNS,
    Dates,
    Statements,
    as_datetimes,
    period_views,
    split_factor,
)
from screener_crawler.trading_calendar import first_trading_days_after

IDENTITY_FIELDS = (
    TICKER_FIELD,
    *STATEMENT_PERIOD_FIELDS,
    pa.field("available_date", pa.date32(), nullable=False),
    pa.field("q4_derived", pa.bool_()),
    pa.field("price_date", pa.date32()),
    pa.field("close", pa.float64()),
    pa.field("split_factor", pa.float64()),
    pa.field("latest_split_factor", pa.float64()),
)
"""What identifies a row and the price its valuation ratios used (``close`` on ``price_date``,
``split_factor`` = F), and ``latest_split_factor``: shares on the latest split's basis per share
of the statement's, which its ratios in USD per share are divided by."""


def _nulls(length: int) -> np.ndarray:
    return np.full(length, np.nan)


class _RecordingView:
    def __init__(self, name, reads, length):
        self._name, self._reads, self._length = name, reads, length

    def __getitem__(self, name):
        self._reads.add((self._name, name))
        return _nulls(self._length)


def _columns(view: pd.DataFrame | Mapping) -> Mapping:
    """A view's columns as float64 arrays by name: views into the frame's values when they are
    one float64 block (as ``period_views`` makes its comparison views), else into one copy; a
    mapping of arrays as it is."""
    if not isinstance(view, pd.DataFrame):
        return view
    values = view.to_numpy(dtype="float64")
    return {name: values[:, position] for position, name in enumerate(view.columns)}


def _array(values: pd.Series | np.ndarray | None) -> np.ndarray | None:
    return None if values is None else np.asarray(values, dtype="float64")


class Context:
    """What a ratio's ``compute`` reads: ``x.REV`` (the row's value), ``x.avg("TA")``,
    ``x.yoy.REV``, ``x.qoq``, ``x.y3``, ``x.ttm``, ``x.D``, and the price symbols ``x.P``,
    ``x.F``, ``x.SO``, ``x.MCAP``, ``x.EV``; each a float64 array over the rows, NaN for null.

    ``views`` are frames (or mappings of arrays) of the same ``length`` rows in the same order,
    as are ``days``, ``close`` and ``factor``: values are matched by position."""

    _NAVIGATION = {("cur", "yoy"): "yoy", ("cur", "qoq"): "qoq", ("cur", "y3"): "y3", ("cur", "ttm"): "ttm",
                   ("yoy", "ttm"): "ttm_yoy"}

    def __init__(self, views: Mapping[str, pd.DataFrame | Mapping], length: int,
                 days: pd.Series | np.ndarray | None = None, close: pd.Series | np.ndarray | None = None,
                 factor: pd.Series | np.ndarray | None = None, view: str = "cur"):
        self._views = {name: _columns(frame) for name, frame in views.items()}
        self._length, self._view = length, view
        self._days, self._close, self._factor = _array(days), _array(close), _array(factor)

    def _at(self, step):
        target = self._NAVIGATION.get((self._view, step))
        if target is None:
            return Context({}, self._length, view=step)
        return Context(self._views, self._length, self._days, self._close, self._factor, view=target)

    yoy = property(lambda self: self._at("yoy"))
    qoq = property(lambda self: self._at("qoq"))
    y3 = property(lambda self: self._at("y3"))
    ttm = property(lambda self: self._at("ttm"))

    def __getattr__(self, name):
        if name in ALIAS_BY_NAME or name == "SO":
            view = self._views.get(self._view)
            return _nulls(self._length) if view is None else view[name]
        raise AttributeError(name)

    def avg(self, item: str | Callable[["Context"], np.ndarray]) -> np.ndarray:
        """2-point average of a balance (alias name, or a function of a context) at the row's
        opening and closing dates; null when either is missing."""
        if self._view != "cur":
            return _nulls(self._length)
        value = (lambda x: getattr(x, item)) if isinstance(item, str) else item
        opening = Context(self._views, self._length, view="open")
        return (value(self) + value(opening)) / 2

    @property
    def D(self) -> np.ndarray:
        return self._days if self._days is not None else _nulls(self._length)

    @property
    def P(self) -> np.ndarray:
        return self._close if self._close is not None else _nulls(self._length)

    @property
    def F(self) -> np.ndarray:
        return self._factor if self._factor is not None else _nulls(self._length)

    @property
    def MCAP(self) -> np.ndarray:
        return self.P * self.F * self.SO

    @property
    def EV(self) -> np.ndarray:
        return self.MCAP + self.DEBT + self.NCI + self.PREF - self.CASH


def evaluate(ratio: Ratio, context: Context) -> np.ndarray:
    """``ratio``'s values in ``context``, NaN where not finite; the warnings of arithmetic on
    NaN and of division by zero are silenced."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return finite(ratio.compute(context))


def _valuation_reads():
    """(view, alias) pairs the valuation ratios read: stored with each row, so that
    ``ratios_asof`` can re-price them without the statements."""
    reads = set()
    views = {name: _RecordingView(name, reads, 1) for name in ("cur", "open", "ttm", "ttm_yoy", "yoy")}
    context = Context(views, 1, days=_nulls(1), close=_nulls(1), factor=_nulls(1))
    for ratio in VALUATION_RATIOS:
        evaluate(ratio, context)
    return tuple(sorted(reads))


VALUATION_READS = _valuation_reads()


def basis_column(view: str, alias: str) -> str:
    return f"basis_{view}_{alias.lower()}"


BASIS_FIELDS = tuple(pa.field(basis_column(view, alias), pa.float64()) for view, alias in VALUATION_READS)
"""The statement values valuation ratios need, per row (``basis_ttm_rev`` = ttm(REV)...)."""
RATIO_FIELDS = tuple(pa.field(ratio.name, pa.float64()) for ratio in RATIOS)
RATIOS_NATURAL_KEY = ("ticker", "timeframe", "period_end", "filing_date")


def available_dates(tickers: pd.Series, filing_dates: Dates,
                    prices: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """First trading day after each filing date and its close: the first bar of the row's
    ticker in ``prices`` (``ticker``, ``date``, ``close``; one bar a ticker a day) after it, else
    the exchange's next trading day after it and no close."""
    filing = pd.Series(filing_dates).to_numpy(dtype="datetime64[ns]")
    next_session = first_trading_days_after(filing).astype("datetime64[ns]")
    if prices.empty:
        return next_session, np.full(len(filing), np.nan)
    codes = pd.Index(prices["ticker"].unique())
    bar_keys = _day_keys(codes.get_indexer(prices["ticker"]), prices["date"].to_numpy())
    order = np.argsort(bar_keys, kind="stable")
    bar_keys = bar_keys[order]
    trading_days = prices["date"].to_numpy(dtype="datetime64[ns]")[order]
    row_keys = _day_keys(codes.get_indexer(tickers), filing)
    position = np.minimum(np.searchsorted(bar_keys, row_keys, side="right"), len(bar_keys) - 1)
    found = (bar_keys[position] // _DAYS_PER_TICKER == row_keys // _DAYS_PER_TICKER) & (bar_keys[position] > row_keys)
    found &= ~np.isnat(filing)
    chosen = np.where(found, trading_days[position], next_session).astype("datetime64[ns]")
    close = np.where(found, prices["close"].to_numpy(dtype="float64")[order][position], np.nan)
    return chosen, close


_DAYS_PER_TICKER = 1 << 20


def _day_keys(codes, days):
    """One sortable integer per (ticker code, day); a ticker not in the prices sorts first."""
    day_numbers = days.astype("datetime64[D]").astype("int64")
    return codes.astype("int64") * _DAYS_PER_TICKER + (day_numbers + _DAYS_PER_TICKER // 2)


def _prices(prices):
    if prices is None or prices.empty:
        return pd.DataFrame({"ticker": [], "date": np.array([], dtype="datetime64[ns]"), "close": []})
    prices = as_datetimes(prices[["ticker", "date", "close"]], ("date",)).dropna(subset=["date"])
    prices = prices.drop_duplicates(["ticker", "date"], keep="last")
    return prices.assign(close=prices["close"].astype("float64")).reset_index(drop=True)


def _splits(splits):
    if splits is None or splits.empty:
        return None
    splits = as_datetimes(splits, ("execution_date",))
    key = ["ticker", "execution_date", "split_from", "split_to"] if "ticker" in splits else [
        "execution_date", "split_from", "split_to"]
    return splits.drop_duplicates(key)


LATEST = np.datetime64(pd.Timestamp.max.floor("D"), "ns")
"""A date after every split: ``split_factor`` from a row's filing date to it is the row's
factor to the latest split basis."""


def compute_ratios(ticker: str, statements: Statements, prices: pd.DataFrame | None = None,
                   splits: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``financial_ratios`` rows of one ticker as a DataFrame (columns of the dataset
    schema but ``downloaded_at``; NaN is null). The frames need no ``ticker`` column."""

    def own(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        return None if frame is None else frame.assign(ticker=ticker)

    return compute_many({dataset: own(frame) for dataset, frame in statements.items()}, own(prices), own(splits))


def compute_many(statements: Statements, prices: pd.DataFrame | None = None,
                 splits: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``financial_ratios`` rows of every ticker in the frames (each with a ``ticker``
    column), sorted by ticker: the rows each ticker gets from ``compute_ratios`` alone.
    ``attrs[SHARES_NOT_POSITIVE]``: how many rows had a share count that cannot be (zero or
    negative; see ``periods.without_impossible_share_counts``)."""
    splits = _splits(splits)
    rows, views, days = period_views(statements, splits)
    columns = [f.name for f in (*IDENTITY_FIELDS, *RATIO_FIELDS, *BASIS_FIELDS)]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    available, close = available_dates(rows["ticker"], rows["filing_date"], _prices(prices))
    factor = split_factor(splits, rows["filing_date"], available, rows["ticker"])
    to_latest_basis = split_factor(splits, rows["filing_date"], np.full(len(rows), LATEST), rows["ticker"])
    index = rows.index
    context = Context(views, len(index), days=days, close=close, factor=factor)
    out = pd.DataFrame({
        "ticker": rows["ticker"],
        "timeframe": rows["timeframe"],
        "fiscal_year": rows["fiscal_year"].astype("Int64"),
        "fiscal_quarter": rows["fiscal_quarter"].astype("Int64"),
        "period_start": rows["period_start"],
        "period_end": rows["period_end"],
        "filing_date": rows["filing_date"],
        "available_date": available,
        "q4_derived": rows["q4_derived"].astype(bool),
        "price_date": np.where(np.isnan(close), np.datetime64("NaT"), available).astype("datetime64[ns]"),
        "close": close,
        "split_factor": factor,
        "latest_split_factor": to_latest_basis,
    }, index=index)
    ratios = {ratio.name: evaluate(ratio, context) for ratio in RATIOS}
    for name in PER_SHARE_RATIOS:
        ratios[name] = ratios[name] / to_latest_basis
    basis = {basis_column(view, alias): finite(views[view][alias]) for view, alias in VALUATION_READS}
    shares_not_positive = int(rows[SHARES_NOT_POSITIVE].sum())
    del context, views  # the period views are not held while the rows are put together
    frame = pd.concat([out, pd.DataFrame(ratios, index=index), pd.DataFrame(basis, index=index)], axis=1)[columns]
    frame.attrs[SHARES_NOT_POSITIVE] = shares_not_positive
    return frame


def reprice(rows: pd.DataFrame, close: pd.Series, price_date: pd.Series,
            splits: pd.DataFrame | None) -> pd.DataFrame:
    """``rows`` of ``financial_ratios`` (a DataFrame) with their valuation ratios recomputed at
    ``close`` on ``price_date`` (aligned Series), share counts put on that day's split basis
    with ``splits`` (of any tickers, a ``ticker`` column; each counts for its own ticker's rows)."""
    rows = rows.copy()
    index = rows.index
    price_day = pd.to_datetime(pd.Series(price_date, index=index))
    factor = split_factor(_splits(splits), pd.to_datetime(rows["filing_date"]), price_day, rows["ticker"])
    views = {}
    for view, alias in VALUATION_READS:
        views.setdefault(view, pd.DataFrame(np.nan, index=index, columns=VALUE_COLUMNS))
        views[view][alias] = rows[basis_column(view, alias)].astype("float64")
    context = Context(views, len(index), close=pd.Series(close, index=index).astype("float64"),
                      factor=pd.Series(factor, index=index))
    for ratio in VALUATION_RATIOS:
        rows[ratio.name] = evaluate(ratio, context)
    rows["close"] = pd.Series(close, index=index).astype("float64")
    rows["price_date"] = pd.Series(price_date, index=index)
    rows["split_factor"] = factor
    return rows


PER_SHARE_RATIOS = tuple(ratio.name for ratio in RATIOS if ratio.unit == USD_PER_SHARE)


def per_share_on_basis_of(rows: pd.DataFrame, day: date, splits: pd.DataFrame | None) -> pd.DataFrame:
    """``rows`` of ``financial_ratios`` (a DataFrame) with their ratios in USD per share moved
    from the latest split's basis (``latest_split_factor``; rows without one are on their
    statement's) to the basis of ``day``, with ``splits`` executed up to ``day``: a point-in-time
    view shows nothing of a later split."""
    rows = rows.copy()
    to_day = split_factor(_splits(splits), pd.to_datetime(rows["filing_date"]),
                          np.full(len(rows), np.datetime64(pd.Timestamp(day), "ns")), rows["ticker"])
    factor = rows["latest_split_factor"].astype("float64").fillna(1.0).to_numpy() / to_day
    for name in PER_SHARE_RATIOS:
        rows[name] = rows[name].astype("float64") * factor
    return rows


RATIOS_SCHEMA = pa.schema([*IDENTITY_FIELDS, *RATIO_FIELDS, *BASIS_FIELDS])


def to_table(frame: pd.DataFrame) -> pa.Table:
    """Rows as a table of ``RATIOS_SCHEMA`` (the dataset's columns but ``downloaded_at``),
    NaN as null."""
    return pa.Table.from_pandas(frame, schema=RATIOS_SCHEMA, preserve_index=False, safe=False)


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with None for null (never NaN), dates as ``datetime.date``."""
    return to_table(frame).to_pylist() if len(frame) else []
