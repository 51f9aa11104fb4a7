"""Statement rows into comparable periods, as they were known on each filing date.

Every frame carries a ``ticker`` column and holds any number of tickers at once: every lookup
matches within a ticker, so computing several tickers together gives each the rows it gets
alone (one pass of pandas over many tickers costs little more than over one).

Every step keys periods by fiscal quarter (``qi = 4 x fiscal_year + fiscal_quarter - 1``) or
fiscal year, and looks other periods up *as known on the row's filing date*: the latest version
of that period filed on or before it (what ``pd.merge_asof`` backward gives, found here by one
``searchsorted`` over integer keys), so no row depends on a later filing.
Periods must also sit where they should: consecutive quarter ends 80-100 days apart, a year
350-380 days; anything else (a gap, a changed fiscal year) gives nulls, never a wrong match.

Share counts and per-share values are as filed: on the split basis of the row's
``filing_date`` (a report restates its periods for the splits executed before it is filed).
Wherever two rows meet (a TTM's quarters, a derived Q4, a comparison), the earlier one's are
restated to the later one's basis with ``split_factor``.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from screener_crawler.polygon.fields import reported_line_items, statement_line_items
from screener_crawler.ratios.catalogue import ALIASES, FLOW, PER_SHARE, SHARES, STOCK

QUARTERLY, ANNUAL, TTM = "quarterly", "annual", "trailing_twelve_months"
QUARTER_GAP = (80, 100)
YEAR_GAP = (350, 380)
THREE_YEAR_GAP = (1080, 1110)
SAME_PERIOD = (0, 0)
ALIAS_NAMES = [alias.name for alias in ALIASES]
VALUE_COLUMNS = [*ALIAS_NAMES, "SO"]
"""Alias values of a period, and SO: the share count market value uses (see the catalogue)."""
META = ["ticker", "timeframe", "fiscal_year", "fiscal_quarter", "period_start", "period_end", "filing_date"]
STATEMENT_KEY = ["ticker", "timeframe", "period_end", "filing_date"]
DATE_COLUMNS = ("period_start", "period_end", "filing_date")

Statements = Mapping[str, pd.DataFrame | None]
"""Statement dataset name -> its rows (with ``ticker``); None or an empty frame when there are none."""
Dates = pd.Series | np.ndarray
"""A column of dates (datetime64; NaT where unknown), aligned with the rows it belongs to."""
Bounds = tuple[int, int]
"""Inclusive (low, high) days apart that two periods must be (``QUARTER_GAP``...)."""
ComparisonSource = tuple[pd.DataFrame | None, str | None, int | None]
"""Where ``comparison_view`` finds a timeframe's earlier period: (table, key column, how many
periods back); all None for the row itself."""


def as_datetimes(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def statement_versions(statements: Statements) -> pd.DataFrame:
    """One row per (timeframe, period_end, filing_date) of the quarterly and annual statements,
    holding each statement's latest version of that period filed by then, as alias values.

    ``statements``: dataset name -> DataFrame of that dataset's rows (with ``ticker``). Provider
    TTM rows are not used: TTM is computed from quarters here.
    """
    keys, values = [], {}
    for dataset, frame in statements.items():
        if frame is None or frame.empty:
            continue
        frame = as_datetimes(frame[frame["timeframe"].isin((QUARTERLY, ANNUAL))], DATE_COLUMNS)
        if frame.empty:
            continue
        keys.append(frame[META])
        line_items = [column for column in statement_line_items(dataset) if column in frame]
        numeric = frame[line_items].add_prefix(f"{dataset}.").astype("float64")
        numeric[f"has.{dataset}"] = 1.0
        if "source" in frame:
            numeric[f"source.{dataset}"] = frame["source"].astype(object)
        values[dataset] = pd.concat([frame[STATEMENT_KEY], numeric], axis=1).sort_values("filing_date")
    if not keys:
        return pd.DataFrame(columns=[*META, *VALUE_COLUMNS])
    versions = (pd.concat(keys).sort_values("filing_date")
                .groupby(STATEMENT_KEY, as_index=False, dropna=False).first()
                .sort_values("filing_date", kind="stable"))
    versions = versions.reset_index(drop=True)
    for frame in values.values():
        versions = _with_latest_filed(versions, frame)
    return pd.concat([versions[META], alias_values(versions)], axis=1)


def _with_latest_filed(versions: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """``versions`` with the columns of ``frame`` after its ``STATEMENT_KEY``, from the row of
    the same ticker, timeframe and period end filed last on or before each version's filing date
    (of rows filed the same day, the last in ``frame``), NaN where there is none: what
    ``pd.merge_asof`` backward on ``filing_date`` by those keys gives, in one ``searchsorted``
    over (key, filing day) integers as in ``latest_filed``."""
    by = ["ticker", "timeframe", "period_end"]
    codes = (pd.concat([versions[by], frame[by]], ignore_index=True)
             .groupby(by, sort=False, dropna=False).ngroup().to_numpy(dtype="int64"))
    days = _filing_days(np.concatenate([versions["filing_date"].to_numpy(dtype="datetime64[ns]"),
                                        frame["filing_date"].to_numpy(dtype="datetime64[ns]")]))
    keys = np.where(days < 0, -1, (codes << _DAY_BITS) + days)
    position = _last_filed_by(keys[len(versions):], keys[:len(versions)])
    latest = frame.drop(columns=STATEMENT_KEY).iloc[np.maximum(position, 0)]
    latest.index = versions.index
    latest.loc[position < 0] = np.nan
    return pd.concat([versions, latest], axis=1)


def reports(sources: pd.Series, dataset: str, column: str) -> pd.Series:
    """Whether each row's endpoint (``sources``: "v1", "vX" or null for unknown) carries
    ``column`` of ``dataset`` at all."""
    known = pd.Series(True, index=sources.index)
    for source in ("v1", "vX"):
        if column not in reported_line_items(source, dataset):
            known &= sources.ne(source)
    return known


def alias_values(raw: pd.DataFrame) -> pd.DataFrame:
    """Every alias of the catalogue computed from raw ``dataset.column`` columns."""
    built = {}
    missing = pd.Series(np.nan, index=raw.index, dtype="float64")

    def source(name: str) -> pd.Series:
        if "." in name:
            return raw[name] if name in raw else missing
        return built[name]

    for alias in ALIASES:
        series = [source(name) for name in alias.sources]
        value = alias.build(*series) if alias.build else series[0]
        if alias.absent_is_zero:
            dataset, column = alias.sources[0].split(".", 1)
            filed = raw[f"has.{dataset}"].eq(1.0) if f"has.{dataset}" in raw else missing.notna()
            if f"source.{dataset}" in raw:
                filed &= reports(raw[f"source.{dataset}"], dataset, column)
            value = value.where(value.notna() | ~filed, 0.0)
        built[alias.name] = value.astype("float64")
    return pd.DataFrame(built, index=raw.index)


def split_factor(splits: pd.DataFrame | None, start: Dates, end: Dates,
                 tickers: pd.Series | np.ndarray | None = None) -> np.ndarray:
    """Shares at ``end`` per share at ``start``: the product of ``split_to / split_from`` of the
    splits executed after ``start`` and on or before ``end`` (null where a date is missing).
    With ``tickers`` (aligned with the dates), a split counts only for rows of its own ticker;
    without, every split of ``splits`` counts (the splits of one ticker)."""
    start = pd.Series(start).to_numpy(dtype="datetime64[ns]")
    end = pd.Series(end).to_numpy(dtype="datetime64[ns]")
    factor = np.ones(len(start))
    if splits is not None:
        owners = splits["ticker"] if tickers is not None else pd.Series(None, index=splits.index)
        tickers = None if tickers is None else pd.Series(tickers)
        owned = {}
        for owner, executed, split_from, split_to in zip(
                owners, splits["execution_date"], splits["split_from"], splits["split_to"]):
            if not (split_from and split_to and split_from > 0 and split_to > 0) or pd.isna(executed):
                continue
            executed = np.datetime64(pd.Timestamp(executed), "ns")
            applies = (executed > start) & (executed <= end)
            if tickers is not None:
                if owner not in owned:
                    owned[owner] = (tickers == owner).to_numpy(dtype=bool, na_value=False)
                applies &= owned[owner]
            factor *= np.where(applies, split_to / split_from, 1.0)
    factor[np.isnat(start) | np.isnat(end)] = np.nan
    return factor


def latest_filed(source: pd.DataFrame, key: str, rows: pd.DataFrame, wanted: Dates) -> np.ndarray:
    """For each of ``rows``, the position in ``source`` of the row of the same ticker whose
    ``key`` equals ``wanted`` with the latest ``filing_date`` on or before the row's (of
    several filed the same day, the last in ``source``); -1 where there is none.

    Every (ticker, key) pair becomes one integer, and pair and filing day one sortable key, so
    that a single ``searchsorted`` answers every row at once."""
    source_keys = source[key].to_numpy(dtype="float64")
    wanted = pd.Series(wanted).to_numpy(dtype="float64")
    ticker_codes = pd.factorize(pd.concat([source["ticker"], rows["ticker"]], ignore_index=True))[0]
    key_codes = pd.factorize(np.concatenate([source_keys, wanted]))[0]
    pairs = ticker_codes.astype("int64") * (int(key_codes.max(initial=0)) + 1) + key_codes
    days = _filing_days(np.concatenate([source["filing_date"].to_numpy(dtype="datetime64[ns]"),
                                        rows["filing_date"].to_numpy(dtype="datetime64[ns]")]))
    unknown = (key_codes < 0) | (ticker_codes < 0) | (days < 0)
    combined = np.where(unknown, -1, (pairs << _DAY_BITS) + days)
    return _last_filed_by(combined[:len(source)], combined[len(source):])


def _last_filed_by(filed: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each of ``wanted``, the position in ``filed`` of the last entry of the same key filed
    on or before its day (of entries equal in both, the last in ``filed``); -1 where there is
    none. Both hold ``key << _DAY_BITS`` plus a filing day, -1 where either is unknown."""
    order = np.argsort(filed, kind="stable")
    order = order[filed[order] >= 0]
    ordered = filed[order]
    position = np.searchsorted(ordered, wanted, side="right") - 1
    found = (position >= 0) & (wanted >= 0)
    found[found] = (ordered[position[found]] >> _DAY_BITS) == (wanted[found] >> _DAY_BITS)
    return np.where(found, order[np.maximum(position, 0)], -1)


_DAY_BITS = 22
"""Filing days (since 1970, shifted by 2**21) fill the low bits of a lookup key."""


def _filing_days(dates: np.ndarray) -> np.ndarray:
    """Days since 1970 shifted to be positive; -1 for NaT."""
    days = dates.astype("datetime64[D]").astype("int64") + (1 << (_DAY_BITS - 1))
    return np.where(np.isnat(dates), -1, days)


LOOKUP_DATES = {"src_period_end": "period_end", "src_period_start": "period_start", "src_filing_date": "filing_date"}
_VALUE_POSITION = {name: position for position, name in enumerate(VALUE_COLUMNS)}


@dataclass
class Found:
    """What ``lookup`` found for each of the rows asked for, in their order: the source row's
    ``VALUE_COLUMNS`` (``values``, NaN where none was found) and its dates (NaT where none)."""

    values: np.ndarray
    dates: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        """A value column by its alias, or a date by its ``LOOKUP_DATES`` name."""
        return self.dates[name] if name in self.dates else self.values[:, _VALUE_POSITION[name]]


def lookup(source: pd.DataFrame, key: str, rows: pd.DataFrame, wanted: pd.Series) -> Found:
    """For each of ``rows``, the ``source`` row of the same ticker whose ``key`` equals
    ``wanted`` with the latest ``filing_date`` on or before the row's (``latest_filed``); NaN
    where there is none. Its dates are ``src_period_end``, ``src_period_start`` and
    ``src_filing_date``."""
    position = latest_filed(source, key, rows, wanted)
    found = position >= 0
    picked = np.where(found, position, 0)
    dates = {}
    for column, name in LOOKUP_DATES.items():
        picked_dates = (source[name].to_numpy(dtype="datetime64[ns]")[picked] if len(source)
                        else np.empty(len(rows), "M8[ns]"))
        picked_dates[~found] = np.datetime64("NaT")
        dates[column] = picked_dates
    values = (source[VALUE_COLUMNS].to_numpy(dtype="float64")[picked] if len(source)
              else np.empty((len(rows), len(VALUE_COLUMNS))))
    values[~found] = np.nan
    return Found(values, dates)


def days_between(later: Dates, earlier: Dates) -> np.ndarray:
    return (pd.Series(later).to_numpy(dtype="datetime64[ns]")
            - pd.Series(earlier).to_numpy(dtype="datetime64[ns]")) / np.timedelta64(1, "D")


def within(days: np.ndarray, bounds: Bounds) -> np.ndarray:
    low, high = bounds
    return (days >= low) & (days <= high)


def _recompute_per_share(frame):
    for alias in ALIASES:
        if alias.kind == PER_SHARE:
            numerator, shares = alias.per_share_of
            frame[alias.name] = frame[numerator] / frame[shares].where(frame[shares] > 0)


SHARE_COUNTS = [*(alias.name for alias in ALIASES if alias.kind == SHARES), "SO"]
PER_SHARE_VALUES = [alias.name for alias in ALIASES if alias.kind == PER_SHARE]
SHARES_NOT_POSITIVE = "shares_not_positive"
"""A row column: some share count of the row was zero or negative, and all were made null."""


def without_impossible_share_counts(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every share count of a row made null, and the per-share values, when one
    of them (reported, or derived: a Q4's 4 x FY - (Q1 + Q2 + Q3)) is zero or negative: such a
    count is no count, so the row's market value and per-share ratios are null, not negative.
    The rows it touched are flagged in ``SHARES_NOT_POSITIVE``."""
    if table.empty:
        return table.assign(**{SHARES_NOT_POSITIVE: pd.Series(dtype=bool)})
    impossible = (table[SHARE_COUNTS] <= 0).any(axis=1)
    table = table.copy()
    table.loc[impossible, SHARE_COUNTS + PER_SHARE_VALUES] = np.nan
    table[SHARES_NOT_POSITIVE] = impossible
    return table


def quarters_and_years(versions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(quarterly rows, annual rows) with their period index: ``qi`` for quarters (the fiscal
    Q4 for years) and ``fiscal_year``."""
    fiscal_year = pd.to_numeric(versions["fiscal_year"], errors="coerce")
    fiscal_quarter = pd.to_numeric(versions["fiscal_quarter"], errors="coerce")
    versions = versions.assign(fiscal_year=fiscal_year, fiscal_quarter=fiscal_quarter, q4_derived=False)
    quarterly = versions[(versions["timeframe"] == QUARTERLY) & fiscal_year.notna()
                         & fiscal_quarter.isin((1, 2, 3, 4))].copy()
    quarterly["qi"] = quarterly["fiscal_year"] * 4 + quarterly["fiscal_quarter"] - 1
    quarterly["SO"] = quarterly["SHD"]
    annual = versions[(versions["timeframe"] == ANNUAL) & fiscal_year.notna()].copy()
    annual["fiscal_quarter"] = np.nan
    annual["qi"] = annual["fiscal_year"] * 4 + 3
    annual["SO"] = annual["SHD"]
    return quarterly.reset_index(drop=True), annual.reset_index(drop=True)


def derive_fourth_quarters(quarterly: pd.DataFrame, annual: pd.DataFrame,
                           splits: pd.DataFrame | None) -> pd.DataFrame:
    """Quarterly rows plus a Q4 for every fiscal year the API gave no Q4 for: flows are the year
    minus Q1-Q3, balances the year's, weighted shares 4 x FY - (Q1 + Q2 + Q3) (restated to the
    annual report's split basis), EPS recomputed. Filed (usable) when the annual report is. Needs
    Q1-Q3 known by then and tiling the year; else no Q4."""
    reported = pd.MultiIndex.from_frame(quarterly.loc[quarterly["fiscal_quarter"] == 4, ["ticker", "qi"]])
    years = annual[~pd.MultiIndex.from_frame(annual[["ticker", "qi"]]).isin(reported)]
    if years.empty or quarterly.empty:
        return quarterly
    earlier = [lookup(quarterly, "qi", years, years["qi"] - k) for k in (3, 2, 1)]
    ends = [part["src_period_end"] for part in earlier] + [years["period_end"]]
    tiles = np.ones(len(years), dtype=bool)
    for before, after in zip(ends, ends[1:]):
        tiles &= within(days_between(after, before), QUARTER_GAP)
    year_starts = years["period_start"].to_numpy(dtype="datetime64[ns]")
    starts_known = ~np.isnat(year_starts) & ~np.isnat(earlier[0]["src_period_start"])
    tiles &= ~starts_known | (year_starts == earlier[0]["src_period_start"])
    derived = years[["ticker", "timeframe", "fiscal_year", "period_end", "filing_date", "qi"]].copy()
    derived["timeframe"] = QUARTERLY
    derived["fiscal_quarter"] = 4.0
    derived["period_start"] = earlier[2]["src_period_end"] + np.timedelta64(1, "D")
    derived["q4_derived"] = True
    factors = [split_factor(splits, part["src_filing_date"], years["filing_date"], years["ticker"]) for part in earlier]
    for alias in ALIASES:
        year_value = years[alias.name]
        if alias.kind == FLOW:
            derived[alias.name] = year_value - sum(part[alias.name] for part in earlier)
        elif alias.kind == SHARES:
            restated = [part[alias.name] * factor for part, factor in zip(earlier, factors)]
            derived[alias.name] = 4 * year_value - sum(restated)
        else:
            derived[alias.name] = year_value
    _recompute_per_share(derived)
    derived["SO"] = derived["SHD"]
    derived = derived[tiles]
    return pd.concat([quarterly, derived[quarterly.columns]], ignore_index=True)


def trailing_twelve_months(quarterly: pd.DataFrame, splits: pd.DataFrame | None) -> pd.DataFrame:
    """A TTM row for every quarter with the three before it known on its filing date and
    contiguous: flows summed, balances at the end, weighted shares averaged (restated to the
    last quarter's split basis), EPS recomputed as TTM NIC / mean shares."""
    if quarterly.empty:
        return quarterly.iloc[0:0].assign(timeframe=TTM)
    earlier = [lookup(quarterly, "qi", quarterly, quarterly["qi"] - k) for k in (1, 2, 3)]
    ends = [quarterly["period_end"]] + [part["src_period_end"] for part in earlier]
    contiguous = np.ones(len(quarterly), dtype=bool)
    for after, before in zip(ends, ends[1:]):
        contiguous &= within(days_between(after, before), QUARTER_GAP)
    ttm = quarterly.copy()
    ttm["timeframe"] = TTM
    ttm["period_start"] = earlier[2]["src_period_start"]
    factors = [split_factor(splits, part["src_filing_date"], quarterly["filing_date"], quarterly["ticker"])
               for part in earlier]
    for alias in ALIASES:
        own = quarterly[alias.name]
        if alias.kind == FLOW:
            ttm[alias.name] = own + sum(part[alias.name] for part in earlier)
        elif alias.kind == SHARES:
            restated = [part[alias.name] * factor for part, factor in zip(earlier, factors)]
            ttm[alias.name] = (own + sum(restated)) / 4
    _recompute_per_share(ttm)
    return ttm[contiguous].reset_index(drop=True)


def annual_share_counts(annual: pd.DataFrame, quarterly: pd.DataFrame, splits: pd.DataFrame | None) -> pd.DataFrame:
    """SO of annual rows: the fiscal Q4's diluted shares (reported or derived) known on the
    annual filing date, on its split basis, else the year's own."""
    if annual.empty:
        return annual
    fourth = lookup(quarterly, "qi", annual, annual["qi"])
    same_end = fourth["src_period_end"] == annual["period_end"].to_numpy(dtype="datetime64[ns]")
    restated = fourth["SO"] * split_factor(splits, fourth["src_filing_date"], annual["filing_date"], annual["ticker"])
    restated = np.where(same_end, restated, np.nan)
    annual = annual.copy()
    annual["SO"] = np.where(np.isnan(restated), annual["SHD"].to_numpy(dtype="float64"), restated)
    return annual


_RESTATED_BY_FACTOR = [VALUE_COLUMNS.index(name) for name in SHARE_COUNTS]
_RESTATED_BY_INVERSE = [VALUE_COLUMNS.index(alias.name) for alias in ALIASES if alias.kind == PER_SHARE]


def comparison_view(rows: pd.DataFrame, sources: Mapping[str, ComparisonSource], gap: Bounds,
                    splits: pd.DataFrame | None) -> pd.DataFrame:
    """For each row, the values of the period ``sources[timeframe] = (table, key, offset)``
    points to, as known on the row's filing date, with share counts and per-share values
    restated to the row's split basis; NaN when absent or not ``gap`` days before the row.
    An offset of None means the row itself."""
    view = np.full((len(rows), len(VALUE_COLUMNS)), np.nan)
    timeframes = rows["timeframe"].to_numpy()
    for timeframe, (table, key, offset) in sources.items():
        mask = timeframes == timeframe
        if not mask.any():
            continue
        if offset is None:
            view[mask] = rows.loc[mask, VALUE_COLUMNS].to_numpy(dtype="float64")
            continue
        if table.empty:
            continue
        subset = rows.loc[mask, ["ticker", "period_end", "filing_date", key]]
        found = lookup(table, key, subset, subset[key] - offset)
        placed = within(days_between(subset["period_end"], found["src_period_end"]), gap)
        factor = split_factor(splits, found["src_filing_date"], subset["filing_date"], subset["ticker"])[:, None]
        values = found.values
        values[:, _RESTATED_BY_FACTOR] *= factor
        values[:, _RESTATED_BY_INVERSE] /= factor
        values[~placed] = np.nan
        view[mask] = values
    return pd.DataFrame(view, index=rows.index, columns=VALUE_COLUMNS, copy=False)


def period_views(statements: Statements,
                 splits: pd.DataFrame | None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Series]:
    """Every row of the ratios dataset (quarterly incl. derived Q4s, annual, TTM) with the
    views the formulas read: ``cur``, ``open``, ``qoq``, ``yoy``, ``y3``, ``ttm``, ``ttm_yoy``,
    and ``D``, the days of each row's window."""
    versions = statement_versions(statements)
    quarterly, annual = quarters_and_years(versions)
    quarterly = without_impossible_share_counts(derive_fourth_quarters(quarterly, annual, splits))
    annual = without_impossible_share_counts(annual_share_counts(annual, quarterly, splits))
    ttm = without_impossible_share_counts(trailing_twelve_months(quarterly, splits))
    rows = pd.concat([quarterly, annual, ttm], ignore_index=True)
    if rows.empty:
        return rows, {}, pd.Series(dtype="float64")
    rows = rows.sort_values(["ticker", "period_end", "timeframe", "filing_date"], kind="stable").reset_index(drop=True)
    quarter_key, year_key = "qi", "fiscal_year"
    views = {
        "cur": rows[VALUE_COLUMNS],
        "qoq": comparison_view(rows, {QUARTERLY: (quarterly, quarter_key, 1), TTM: (ttm, quarter_key, 1)},
                               QUARTER_GAP, splits),
        "yoy": comparison_view(rows, {QUARTERLY: (quarterly, quarter_key, 4), TTM: (ttm, quarter_key, 4),
                                      ANNUAL: (annual, year_key, 1)}, YEAR_GAP, splits),
        "y3": comparison_view(rows, {QUARTERLY: (quarterly, quarter_key, 12), TTM: (ttm, quarter_key, 12),
                                     ANNUAL: (annual, year_key, 3)}, THREE_YEAR_GAP, splits),
        "ttm": comparison_view(rows, {QUARTERLY: (ttm, quarter_key, 0), ANNUAL: (None, None, None),
                                      TTM: (None, None, None)}, SAME_PERIOD, splits),
        "ttm_yoy": comparison_view(rows, {QUARTERLY: (ttm, quarter_key, 4), TTM: (ttm, quarter_key, 4),
                                          ANNUAL: (annual, year_key, 1)}, YEAR_GAP, splits),
    }
    is_quarter = (rows["timeframe"] == QUARTERLY).to_numpy()
    views["open"] = pd.DataFrame(np.where(is_quarter[:, None], views["qoq"].to_numpy(), views["yoy"].to_numpy()),
                                 index=rows.index, columns=VALUE_COLUMNS, copy=False)
    quarter_days = days_between(rows["period_end"], rows["period_start"]) + 1
    previous_end_days = days_between(rows["period_end"], views_period_end(rows, quarterly))
    quarter_days = np.where(np.isnan(quarter_days), previous_end_days, quarter_days)
    days = pd.Series(np.where(is_quarter, quarter_days, 365.0), index=rows.index)
    return rows, views, days


def views_period_end(rows: pd.DataFrame, quarterly: pd.DataFrame) -> np.ndarray:
    """The period end of each row's previous fiscal quarter, for the length of a quarter whose
    start the API did not give."""
    if quarterly.empty:
        return np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]")
    ends = lookup(quarterly, "qi", rows, rows["qi"] - 1)["src_period_end"]
    placed = within(days_between(rows["period_end"], ends), QUARTER_GAP)
    return np.where(placed, ends, np.datetime64("NaT"))


__all__ = ["ANNUAL", "QUARTERLY", "STOCK", "TTM", "period_views", "split_factor", "statement_versions"]
