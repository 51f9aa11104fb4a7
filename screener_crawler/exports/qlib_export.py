"""``scrapy export-qlib``: a Qlib provider directory from the data root.

    out/
      calendars/day.txt                  the NYSE sessions from the first to the last bar exported
      instruments/all.txt                code <TAB> first bar <TAB> last bar, one line per ticker with bars
      instruments/symbols.tsv            ticker <TAB> code <TAB> folder, every ticker exported (qlib_symbols)
      features/<folder>/<field>.day.bin  open high low close volume vwap factor (qlib_format)
      financial/<folder>/<field>_q.data  point-in-time fundamentals, and _q.index, _a.data, _a.index
      qlib_export_manifest.json          a content hash per ticker of what was written, for the next run

Prices. ``daily_prices`` are as traded. ``factor`` on day d is the product of ``split_from /
split_to`` over the ticker's splits executed after d (1 from its last split on; 0.25 before a
4-for-1 split): the number of today's shares one share of day d has become, inverted. Qlib's
convention follows: ``$open, $high, $low, $close, $vwap`` = traded value x ``factor``,
``$volume`` = traded volume / ``factor``, so ``$close / $factor`` is the traded close and a
series does not jump at a split. Dividends are not in the factor.

Calendar. The exchange's sessions (``trading_calendar``, the one the crawl asks grouped bars
for and dates ``available_date`` with), from the first to the last bar of ``daily_prices`` in
[start, end], not the days that happen to have bars: a day no bar was downloaded for yet does
not shift every later index, so a later export only appends days, and a ticker's bins (which
start at its first bar's index and end at its last bar) stay byte for byte the same unless its
own bars or splits change. A bar on a day that is not a session is left out (and counted).

Point in time. A record's date is the row's ``available_date`` (``financial_ratios``: the first
trading day after ``filing_date``; for a statement row without a ratio row, the same rule from
the bars), never the filing date or the period end. Quarterly rows give ``<field>_q`` (period
``fiscal_year * 100 + fiscal_quarter``), annual rows ``<field>_a`` (``fiscal_year``). A period
filed again (a later ``filing_date``: a restatement) is a later record chained from the
earlier one, so ``P($$field_q)`` on a day before the restatement still reads the first value.
Null values are not written. With ``end``, nothing that became available after it is written.

Re-running. Every ticker's files are built in memory and hashed; a ticker whose hash is the one
in the manifest (and whose folder is there) is not written again. A rewritten ticker's folder is
written under a hidden name and renamed into place; the text files are replaced atomically. The
work is split into batches of tickers (a range of the sorted tickers: each file's row groups are
sorted by ticker, so a batch reads only its own), spread over worker processes: memory is bounded
by a batch, not the universe.
"""

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from screener_crawler.data_loader import DataLoader
from screener_crawler.datasets import DATASETS
from screener_crawler.exports.qlib_fields import (
    ADJUSTED_BY_FACTOR,
    DIVIDED_BY_FACTOR,
    PIT_TIMEFRAMES,
    resolve_fields,
)
from screener_crawler.exports.qlib_format import (
    feature_bin,
    pit_files,
    remove_leftovers,
    replace_folder,
)
from screener_crawler.exports.qlib_symbols import qlib_code, qlib_folder
from screener_crawler.ratios.compute import available_dates
from screener_crawler.storage.atomic import write_bytes_atomically
from screener_crawler.storage.layout import column_statistics, published_partitions
from screener_crawler.trading_calendar import trading_days

MANIFEST_FILE = "qlib_export_manifest.json"
TEXT_FILES = ("calendars/day.txt", "instruments/all.txt", "instruments/symbols.tsv", MANIFEST_FILE)
MANIFEST_VERSION = 1
EPOCH = date(1970, 1, 1)
STATEMENT_KEY = ["ticker", "timeframe", "period_end", "filing_date"]
PERIOD_COLUMNS = ["fiscal_year", "fiscal_quarter"]


@dataclass
class ExportSummary:
    """What an export did: ``files``/``bytes`` written this run (unchanged tickers write none)."""
    out: Path
    calendar_days: int = 0
    instruments: int = 0
    tickers: int = 0
    tickers_written: int = 0
    tickers_unchanged: int = 0
    tickers_removed: int = 0
    files: int = 0
    bytes: int = 0
    bars_off_calendar: int = 0
    pit_rows_without_period: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {name: (str(value) if isinstance(value, Path) else value) for name, value in self.__dict__.items()}


@dataclass
class _TickerResult:
    ticker: str
    first: int | None = None
    last: int | None = None
    hashes: dict = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    written: bool = False


@dataclass
class _Batch:
    low: str | None
    high: str | None
    """Tickers in [low, high); None: no bound."""
    tickers: tuple[str, ...] | None
    """Only these (``--tickers``), else every ticker in the range."""


@dataclass
class _Plan:
    """What every batch shares (handed to the worker processes once)."""
    root: Path
    out: Path
    calendar: np.ndarray
    """Session days, as days since 1970-01-01 (int32), ascending."""
    start: date | None
    end: date | None
    price_fields: tuple[str, ...]
    pit_fields: dict[str, tuple[str, ...]]
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    previous: dict[str, dict]


_PLAN: _Plan | None = None


def export_qlib(root: Path | str, out: Path | str, tickers: list[str] | None = None, start: date | None = None,
                end: date | None = None, fields: list[str] | None = None, batch_tickers: int = 1000,
                workers: int = 2, progress: Callable[[str], None] | None = None) -> ExportSummary:
    """Write (or bring up to date) the Qlib directory ``out`` from the data root ``root``."""
    started = time.monotonic()
    root, out = Path(root), Path(out)
    if start is not None and end is not None and start > end:
        raise ValueError(f"start {start} is after end {end}")
    price_fields, pit_fields = resolve_fields(fields)
    if not published_partitions(root, DATASETS["daily_prices"]):
        raise ValueError(f"{root} has no daily_prices: nothing to export")
    calendar = _calendar(root, start, end)
    summary = ExportSummary(out=out, calendar_days=len(calendar))
    previous = _read_manifest(out)
    universe = _universe_tickers(root)
    plan = _Plan(root, out, calendar, start, end, price_fields, pit_fields, _splits(root), previous)
    for parent in (out / "features", out / "financial"):
        remove_leftovers(parent)
    results = _run(plan, _batches(root, universe, tickers, batch_tickers), workers, progress, summary)
    exported = {result.ticker: result for result in results}
    if tickers is None:
        for ticker in universe:
            exported.setdefault(ticker, _TickerResult(ticker))
    for ticker, hashes in sorted(previous.items()):
        now = exported.get(ticker)
        for kind, digest in hashes.items():
            if digest is not None and (now is None or now.hashes.get(kind) is None) and kind in ("features", "financial"):
                replace_folder(out / kind / qlib_folder(qlib_code(ticker)), {})
        summary.tickers_removed += now is None
    _write_text_files(out, calendar, exported)
    summary.tickers = len(exported)
    summary.instruments = sum(result.first is not None for result in exported.values())
    summary.tickers_written = sum(result.written for result in exported.values())
    summary.tickers_unchanged = summary.tickers - summary.tickers_written
    summary.files = sum(result.files for result in exported.values()) + len(TEXT_FILES)
    summary.bytes = sum(result.bytes for result in exported.values()) + sum(
        (out / name).stat().st_size for name in TEXT_FILES)
    summary.seconds = time.monotonic() - started
    return summary


def _calendar(root, start, end):
    """The sessions from the first to the last bar on disk, within [start, end]."""
    partitions = published_partitions(root, DATASETS["daily_prices"])
    first = _date_statistic(partitions[min(partitions)], "min")
    last = _date_statistic(partitions[max(partitions)], "max")
    first = max(first, start) if start else first
    last = min(last, end) if end else last
    days = trading_days(first, last) if first <= last else []
    return np.array([(day - EPOCH).days for day in days], dtype=np.int32)


def _date_statistic(path, which):
    values = [getattr(statistics, which) for statistics in column_statistics(pq.ParquetFile(path).metadata, "date")]
    return min(values) if which == "min" else max(values)


def _universe_tickers(root):
    table = DataLoader(root).load_table("universe", columns=["ticker"])
    return sorted(set(table.column("ticker").to_pylist()))


def _batches(root, universe, tickers, batch_tickers):
    """Ranges of tickers: cut every ``batch_tickers`` of the universe (bars of tickers outside it
    fall in the neighbouring range), or of ``tickers``."""
    if tickers is not None:
        names = sorted(set(tickers))
        return [_Batch(None, None, tuple(names[i:i + batch_tickers])) for i in range(0, len(names), batch_tickers)]
    if not universe:
        universe = sorted(set(DataLoader(root).load_table("daily_prices", columns=["ticker"])
                              .column("ticker").unique().to_pylist()))
    cuts = universe[batch_tickers::batch_tickers]
    bounds = [None, *cuts, None]
    return [_Batch(bounds[i], bounds[i + 1], None) for i in range(len(bounds) - 1)]


def _splits(root):
    """Ticker -> (execution days since 1970, ascending; the cumulative ``split_from / split_to``
    of the splits from each one on, with a trailing 1)."""
    table = DataLoader(root).load_table("splits", columns=["ticker", "execution_date", "split_from", "split_to"])
    frame = table.to_pandas()
    ratio = frame["split_from"].astype("float64") / frame["split_to"].astype("float64")
    frame = frame[np.isfinite(ratio) & (ratio > 0)].assign(ratio=ratio)
    frame = frame.drop_duplicates(["ticker", "execution_date", "split_from", "split_to"])
    frame = frame.assign(day=pd.to_datetime(frame["execution_date"]).to_numpy("datetime64[D]").astype("int64"))
    out = {}
    for ticker, rows in frame.sort_values(["ticker", "day"]).groupby("ticker", sort=False):
        after = np.append(np.cumprod(rows["ratio"].to_numpy()[::-1])[::-1], 1.0)
        out[ticker] = (rows["day"].to_numpy(), after)
    return out


def _run(plan, batches, workers, progress, summary):
    """Every batch's ticker results, in one process or ``workers`` forked ones."""
    results = []

    def collect(number, outcome):
        batch_results, off_calendar, without_period = outcome
        results.extend(batch_results)
        summary.bars_off_calendar += off_calendar
        summary.pit_rows_without_period += without_period
        if progress:
            progress(f"batch {number}/{len(batches)} done: {len(results):,} tickers")

    if workers <= 1 or len(batches) <= 1:
        _set_plan(plan)
        try:
            for number, batch in enumerate(batches, 1):
                collect(number, _export_batch(batch))
        finally:
            _set_plan(None)
        return results
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_set_plan, initargs=(plan,)) as pool:
        futures = [pool.submit(_export_batch, batch) for batch in batches]
        for number, future in enumerate(as_completed(futures), 1):
            collect(number, future.result())
    return results


def _set_plan(plan):
    global _PLAN
    _PLAN = plan


def _where(batch, date_column=None, end=None):
    conditions = []
    if batch.low is not None:
        conditions.append(ds.field("ticker") >= batch.low)
    if batch.high is not None:
        conditions.append(ds.field("ticker") < batch.high)
    if batch.tickers is not None:
        conditions += [ds.field("ticker") >= batch.tickers[0], ds.field("ticker") <= batch.tickers[-1],
                       ds.field("ticker").isin(pa.array(batch.tickers, pa.string()))]
    if date_column is not None and end is not None:
        conditions.append(ds.field(date_column) <= pa.scalar(end, pa.date32()))
    expression = None
    for condition in conditions:
        expression = condition if expression is None else expression & condition
    return expression


def _export_batch(batch: _Batch) -> tuple[list[_TickerResult], int, int]:
    """Write the batch's tickers whose files changed: (their results, bars off the calendar,
    values without a usable period)."""
    plan = _PLAN
    loader = DataLoader(plan.root)
    value_columns = sorted({*plan.price_fields} - {"factor"} | {"close"})
    bars = loader.load_table("daily_prices", plan.start, plan.end, ["ticker", "date", *value_columns],
                             _where(batch)).sort_by([("ticker", "ascending"), ("date", "ascending")])
    features, off_calendar, spans = _features(plan, bars)
    financial, without_period = _financial(plan, loader, batch, bars)
    results = []
    for ticker in sorted(set(features) | set(financial) | set(batch.tickers or ())):
        result = _TickerResult(ticker, *spans.get(ticker, (None, None)))
        for kind, files in (("features", features.get(ticker, {})), ("financial", financial.get(ticker, {}))):
            result.hashes[kind] = digest = _digest(files)
            target = plan.out / kind / qlib_folder(qlib_code(ticker))
            if plan.previous.get(ticker, {}).get(kind) == digest and (not files or target.is_dir()):
                continue
            result.bytes += replace_folder(target, files)
            result.files += len(files)
            result.written = True
        results.append(result)
    return results, off_calendar, without_period


def _digest(files):
    if not files:
        return None
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + len(files[name]).to_bytes(8, "little"))
        digest.update(files[name])
    return digest.hexdigest()


def _features(plan, bars):
    """Ticker -> {``<field>.day.bin``: bytes}, the bars off the calendar, ticker -> (first, last)
    calendar index."""
    if bars.num_rows == 0:
        return {}, 0, {}
    days = bars.column("date").cast(pa.int32()).to_numpy()
    position = np.searchsorted(plan.calendar, days)
    on_calendar = (position < len(plan.calendar)) & (plan.calendar[np.minimum(position, len(plan.calendar) - 1)] == days)
    columns = {name: bars.column(name).to_numpy(zero_copy_only=False).astype("float64")
               for name in plan.price_fields if name != "factor"}
    tickers = bars.column("ticker").combine_chunks().dictionary_encode()
    codes = tickers.indices.to_numpy(zero_copy_only=False)
    names = tickers.dictionary.to_pylist()
    boundaries = np.flatnonzero(np.diff(codes)) + 1
    out, spans = {}, {}
    for begin, stop in zip(np.r_[0, boundaries], np.r_[boundaries, len(codes)]):
        keep = on_calendar[begin:stop]
        index = position[begin:stop][keep]
        if len(index) == 0:
            continue
        ticker = names[codes[begin]]
        first, last = int(index[0]), int(index[-1])
        factor = _factor(plan.splits.get(ticker), days[begin:stop][keep])
        files = {}
        for name in plan.price_fields:
            series = np.full(last - first + 1, np.nan)
            if name == "factor":
                series[index - first] = factor
            elif name in ADJUSTED_BY_FACTOR:
                series[index - first] = columns[name][begin:stop][keep] * factor
            elif name in DIVIDED_BY_FACTOR:
                series[index - first] = columns[name][begin:stop][keep] / factor
            files[f"{name}.day.bin"] = feature_bin(first, series)
        out[ticker] = files
        spans[ticker] = (first, last)
    return out, int((~on_calendar).sum()), spans


def _factor(splits, days):
    """The split factor on each of ``days`` (see the module docstring)."""
    if splits is None:
        return np.ones(len(days))
    executed, after = splits
    return after[np.searchsorted(executed, days, side="right")]


def _financial(plan, loader, batch, bars):
    """Ticker -> {``<field>_<q|a>.data`` / ``.index``: bytes}, and the rows left out for lack of a
    usable fiscal period."""
    if not plan.pit_fields:
        return {}, 0
    timeframes = ds.field("timeframe").isin(pa.array(list(PIT_TIMEFRAMES), pa.string()))
    ratio_fields = plan.pit_fields.get("financial_ratios", ())
    ratios = loader.load_table("financial_ratios", columns=[*STATEMENT_KEY, *PERIOD_COLUMNS, "available_date",
                                                            *ratio_fields],
                               where=_and(_where(batch, "available_date", plan.end), timeframes)).to_pandas()
    sources = [(ratios, ratio_fields)]
    availability = ratios[[*STATEMENT_KEY, "available_date"]]
    for dataset, names in plan.pit_fields.items():
        if dataset == "financial_ratios":
            continue
        rows = loader.load_table(dataset, columns=[*STATEMENT_KEY, *PERIOD_COLUMNS, *names],
                                 where=_and(_where(batch, "filing_date", plan.end), timeframes)).to_pandas()
        rows = rows.merge(availability, on=STATEMENT_KEY, how="left")
        missing = rows["available_date"].isna().to_numpy()
        if missing.any():
            rows["available_date"] = rows["available_date"].astype(object)
            rows.loc[missing, "available_date"] = _available_from_bars(rows[missing], bars)
        if plan.end is not None:
            rows = rows[pd.to_datetime(rows["available_date"]) <= pd.Timestamp(plan.end)]
        sources.append((rows, names))
    return _pit_files_by_ticker(sources)


def _and(left, right):
    return right if left is None else left & right


def _available_from_bars(rows, bars):
    prices = pd.DataFrame({"ticker": bars.column("ticker").to_pandas(),
                           "date": bars.column("date").to_pandas().astype("datetime64[ns]"),
                           "close": bars.column("close").to_pandas()})
    chosen, _ = available_dates(rows["ticker"].reset_index(drop=True), rows["filing_date"], prices)
    return pd.to_datetime(chosen).date


def _pit_files_by_ticker(sources):
    """The point-in-time files of every ticker in ``sources`` ((frame, field names) pairs), and
    how many values were left out for lack of a usable fiscal period or availability day.
    Records of a (ticker, field, timeframe) go by date, then filing date, then period."""
    tickers = sorted(set().union(*(set(frame["ticker"]) for frame, names in sources if names)))
    if not tickers:
        return {}, 0
    ticker_codes = pd.Index(tickers)
    names = [name for _, source_names in sources for name in source_names]
    parts, left_out = [], 0
    for frame, source_names in sources:
        if frame.empty or not source_names:
            continue
        available = pd.to_datetime(frame["available_date"])
        quarterly = frame["timeframe"].to_numpy() == "quarterly"
        year = frame["fiscal_year"].astype("float64").to_numpy()
        quarter = frame["fiscal_quarter"].astype("float64").to_numpy()
        period = np.where(quarterly, year * 100 + quarter, year)
        usable = np.isfinite(period) & (year >= 1900) & (year <= 2099) & available.notna().to_numpy()
        usable &= ~quarterly | ((quarter >= 1) & (quarter <= 4))
        shared = {
            "ticker": ticker_codes.get_indexer(frame["ticker"]),
            "quarterly": quarterly,
            "date": (available.dt.year * 10000 + available.dt.month * 100 + available.dt.day).fillna(0)
                    .to_numpy().astype(np.int64),
            "filing": pd.to_datetime(frame["filing_date"]).to_numpy("datetime64[D]").astype(np.int64),
            "period": np.where(usable, period, 0).astype(np.int64),
        }
        for name in source_names:
            values = frame[name].astype("float64").to_numpy()
            present = np.isfinite(values)
            left_out += int((present & ~usable).sum())
            keep = present & usable
            parts.append({**{key: column[keep] for key, column in shared.items()},
                          "name": np.full(int(keep.sum()), names.index(name)), "value": values[keep]})
    columns = {key: np.concatenate([part[key] for part in parts]) if parts else np.array([])
               for key in ("ticker", "quarterly", "date", "filing", "period", "name", "value")}
    group = (columns["ticker"] * len(names) + columns["name"]) * 2 + columns["quarterly"]
    order = np.lexsort((columns["period"], columns["filing"], columns["date"], group))
    group = group[order]
    files = pit_files(group, columns["date"][order], columns["period"][order], columns["value"][order],
                      columns["quarterly"][order].astype(bool))
    heads = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else []
    out: dict[str, dict[str, bytes]] = {}
    for (data, index), head in zip(files, heads):
        ticker_code, rest = divmod(int(group[head]), len(names) * 2)
        name_code, quarterly = divmod(rest, 2)
        stem = f"{names[name_code]}_{PIT_TIMEFRAMES['quarterly' if quarterly else 'annual']}"
        files_of_ticker = out.setdefault(tickers[ticker_code], {})
        files_of_ticker[f"{stem}.data"], files_of_ticker[f"{stem}.index"] = data, index
    return out, left_out


def _read_manifest(out):
    path = out / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return manifest.get("tickers", {}) if manifest.get("version") == MANIFEST_VERSION else {}


def _day(days_since_epoch):
    return (EPOCH + timedelta(days=int(days_since_epoch))).isoformat()


def _write_text_files(out, calendar, exported):
    """calendars/day.txt, instruments/all.txt and symbols.tsv, then the manifest (last: a
    killed export leaves the previous one, and the next run rewrites what differs from it)."""
    write_bytes_atomically(out / "calendars" / "day.txt", "".join(f"{_day(d)}\n" for d in calendar).encode())
    instruments, symbols = [], ["ticker\tinstrument\tfolder\n"]
    for ticker in sorted(exported):
        result = exported[ticker]
        code = qlib_code(ticker)
        symbols.append(f"{ticker}\t{code}\t{qlib_folder(code)}\n")
        if result.first is not None:
            instruments.append(f"{code}\t{_day(calendar[result.first])}\t{_day(calendar[result.last])}\n")
    write_bytes_atomically(out / "instruments" / "all.txt", "".join(instruments).encode())
    write_bytes_atomically(out / "instruments" / "symbols.tsv", "".join(symbols).encode())
    manifest = {"version": MANIFEST_VERSION,
                "tickers": {ticker: result.hashes for ticker, result in sorted(exported.items()) if result.hashes}}
    write_bytes_atomically(out / MANIFEST_FILE, json.dumps(manifest, separators=(",", ":")).encode())
