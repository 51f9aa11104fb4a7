"""Turn Polygon JSON records into dataset rows (plain dicts in our column names).

Pure functions, no Scrapy: the spiders call them and wrap the rows in items. Each parser
returns ``ParsedRow``s; a field the schema does not know is left out of the row and named in
``unknown_fields`` so the spider can count it instead of failing on it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from screener_crawler.datasets import DATASETS
from screener_crawler.polygon.fields import (
    VX_CONCEPTS,
    VX_STATEMENT_TO_DATASET,
    VX_TIMEFRAME_TO_V1,
    V1_TIMEFRAMES,
)


@dataclass
class ParsedRow:
    dataset: str
    row: dict
    unknown_fields: tuple = ()


V1_STATEMENT_IDENTITY = {"cik", "tickers", "period_end", "filing_date", "fiscal_year",
                         "fiscal_quarter", "timeframe"}
VX_FISCAL_PERIOD_TIMEFRAME = {"Q1": "quarterly", "Q2": "quarterly", "Q3": "quarterly",
                              "Q4": "quarterly", "FY": "annual", "TTM": "trailing_twelve_months"}


def normalise_cik(cik):
    """CIKs come zero-padded on some endpoints and not on others; store 10 digits."""
    if isinstance(cik, str) and cik.isdigit():
        return cik.zfill(10)
    return cik


def v1_statement_rows(dataset, record, wanted_tickers=None):
    """One row per ticker of the record (a filing can list several share classes).

    ``wanted_tickers`` limits the rows to the tickers this crawl asked for; None keeps all.
    """
    columns = DATASETS[dataset].column_set
    row = {"cik": normalise_cik(record.get("cik")), "source": "v1"}
    unknown = []
    for key, value in record.items():
        if key == "cik":
            continue
        if key in columns:
            row[key] = value
        elif key not in V1_STATEMENT_IDENTITY:
            unknown.append(key)
    tickers = record.get("tickers") or []
    if not isinstance(tickers, list):
        tickers = []
    return [
        ParsedRow(dataset, {**row, "ticker": ticker}, tuple(unknown))
        for ticker in dict.fromkeys(tickers)
        if wanted_tickers is None or ticker in wanted_tickers
    ]


def v1_statement_page_rows(payload, dataset, tickers):
    """The rows of a v1 statements page for the ``tickers`` asked for, made as they are read."""
    wanted = set(tickers)
    return (row for record in payload.get("results") or () for row in v1_statement_rows(dataset, record, wanted))


def vx_timeframe(record, requested_timeframe=None):
    """The v1 spelling of a vX record's timeframe.

    Old vX records carry no ``timeframe``; then the filter the request used decides, and
    failing that the fiscal period (``FY`` is annual, ``Q1``..``Q4`` quarterly).
    """
    timeframe = record.get("timeframe") or requested_timeframe
    if timeframe:
        return VX_TIMEFRAME_TO_V1.get(timeframe, timeframe)
    return VX_FISCAL_PERIOD_TIMEFRAME.get(record.get("fiscal_period"))


def _vx_fiscal_quarter(fiscal_period):
    if isinstance(fiscal_period, str) and fiscal_period[:1] == "Q" and fiscal_period[1:].isdigit():
        return int(fiscal_period[1:])
    return None


def _vx_fiscal_year(fiscal_year):
    if isinstance(fiscal_year, str) and fiscal_year.isdigit():
        return int(fiscal_year)
    return fiscal_year


EDGAR_TIME_ZONE = ZoneInfo("America/New_York")


def acceptance_time(value):
    """vX ``acceptance_datetime``, EDGAR's ``YYYYMMDDHHMMSS`` in US/Eastern, as an aware datetime;
    any other value as given, for validation to judge."""
    if isinstance(value, str) and len(value) == 14 and value.isdigit():
        try:
            return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=EDGAR_TIME_ZONE)
        except ValueError:
            pass
    return value


def server_time(payload) -> datetime:
    """The ``serverTime`` of a market status answer (``/v1/marketstatus/now``), RFC 3339 with
    its UTC offset, as an aware datetime; ValueError when the answer has none that is one."""
    value = payload.get("serverTime") if isinstance(payload, dict) else None
    if not isinstance(value, str):
        raise ValueError("the market status has no serverTime")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"serverTime {value!r} has no UTC offset")
    return moment


def vx_financials_rows(record, ticker, requested_timeframe=None):
    """The rows a vX filing record gives: one per statement dataset it has data for.

    A dataset takes only the timeframes its v1 endpoint has: a ttm filing's balance sheet
    repeats the latest quarter's and is left out, as v1 has no ttm balance sheets.
    """
    identity = {
        "ticker": ticker,
        "cik": normalise_cik(record.get("cik")),
        "tickers": record.get("tickers"),
        "company_name": record.get("company_name"),
        "timeframe": vx_timeframe(record, requested_timeframe),
        "fiscal_year": _vx_fiscal_year(record.get("fiscal_year")),
        "fiscal_quarter": _vx_fiscal_quarter(record.get("fiscal_period")),
        "period_start": record.get("start_date"),
        "period_end": record.get("end_date"),
        "filing_date": record.get("filing_date"),
        "source": "vX",
        "fiscal_period": record.get("fiscal_period"),
        "sic": record.get("sic"),
        "source_filing_url": record.get("source_filing_url"),
        "source_filing_file_url": record.get("source_filing_file_url"),
        "acceptance_datetime": acceptance_time(record.get("acceptance_datetime")),
    }
    values = {}
    unknown = {}
    for block, data_points in (record.get("financials") or {}).items():
        dataset = VX_STATEMENT_TO_DATASET.get(block)
        if dataset is None:
            unknown.setdefault(None, []).append(block)
            continue
        concepts = VX_CONCEPTS[block]
        statement = values.setdefault(dataset, {})
        for concept, point in (data_points or {}).items():
            column = concepts.get(concept)
            if column is None:
                unknown.setdefault(dataset, []).append(f"{block}.{concept}")
            else:
                statement[column] = point.get("value") if isinstance(point, dict) else point
    rows = [
        ParsedRow(dataset, {**identity, **statement}, tuple(unknown.get(dataset, ())))
        for dataset, statement in values.items()
        if identity["timeframe"] in V1_TIMEFRAMES[dataset]
    ]
    if None in unknown and rows:
        rows[0].unknown_fields += tuple(unknown[None])
    return rows


def _flat_rows(dataset, record, source, renames=None, drop=()):
    """A flat record as one row: known columns kept, ``renames`` applied, others counted."""
    columns = DATASETS[dataset].column_set
    row = {"source": source} if "source" in columns else {}
    unknown = []
    for key, value in record.items():
        column = (renames or {}).get(key, key)
        if column in columns:
            row[column] = value
        elif key not in drop:
            unknown.append(key)
    return row, tuple(unknown)


def universe_row(record):
    row, unknown = _flat_rows("universe", {**record, "cik": normalise_cik(record.get("cik"))}, None,
                              drop=("source_feed", "currency_symbol", "base_currency_symbol",
                                    "base_currency_name"))
    return ParsedRow("universe", row, unknown)


UNIVERSE_DETAIL_FIELDS = ("market", "locale", "primary_exchange", "type", "active", "currency_name",
                          "currency_symbol", "composite_figi", "share_class_figi", "last_updated_utc",
                          "delisted_utc", "round_lot", "phone_number", "address", "description", "branding")
"""Fields of a ticker's details that ``ticker_details`` does not keep: the universe's columns, and
contact details, the description and logos."""


def ticker_details_rows(results, ticker):
    """``/v3/reference/tickers/{ticker}``: ``results`` is one object, the ticker's details (a
    row, or none when the answer has no details)."""
    if not isinstance(results, dict) or not results:
        return []
    record = {**results, "ticker": ticker, "cik": normalise_cik(results.get("cik"))}
    row, unknown = _flat_rows("ticker_details", record, None, drop=UNIVERSE_DETAIL_FIELDS)
    return [ParsedRow("ticker_details", row, unknown)]


def dividend_row(record, source):
    """v1 ``/stocks/v1/dividends`` and v3 ``/v3/reference/dividends`` records alike."""
    row, unknown = _flat_rows("dividends", record, source)
    return ParsedRow("dividends", row, unknown)


def split_row(record, source):
    row, unknown = _flat_rows("splits", record, source)
    return ParsedRow("splits", row, unknown)


CORPORATE_ACTION_ROWS = {"dividends": dividend_row, "splits": split_row}


def corporate_action_page_rows(payload, dataset, source, tickers):
    """The rows of a page of dividends or splits (v1 or v3: ``source``) for the ``tickers``
    asked for, made as they are read."""
    to_row, wanted = CORPORATE_ACTION_ROWS[dataset], set(tickers)
    return (row for row in (to_row(record, source) for record in payload.get("results") or ())
            if row.row.get("ticker") in wanted)


def ticker_event_rows(results, ticker):
    """``/vX/reference/tickers/{id}/events``: ``results`` is an object holding ``events``."""
    results = results if isinstance(results, dict) else {}
    identity = {"ticker": ticker, "name": results.get("name"),
                "composite_figi": results.get("composite_figi"),
                "cik": normalise_cik(results.get("cik"))}
    rows = []
    for event in results.get("events") or ():
        event_type = event.get("type") or event.get("event_type")
        detail = event.get(event_type) if isinstance(event.get(event_type), dict) else {}
        rows.append(ParsedRow("ticker_events", {**identity, "date": event.get("date"),
                                                "event_type": event_type,
                                                "new_ticker": detail.get("ticker")}))
    return rows


def related_ticker_rows(results, ticker):
    """``/v1/related-companies/{ticker}``: peers in the API's order, ranked from 1."""
    return [ParsedRow("related_tickers", {"ticker": ticker, "related_ticker": peer.get("ticker"), "rank": rank})
            for rank, peer in enumerate(results or (), start=1) if isinstance(peer, dict)]


@lru_cache(maxsize=1 << 16, typed=True)
def bar_day(start_ms):
    """The trading day of a daily bar that starts at ``start_ms``: US/Eastern midnight, which is
    04:00 or 05:00 UTC, so twelve hours later is inside the same day in UTC."""
    if not isinstance(start_ms, (int, float)) or isinstance(start_ms, bool):
        return None
    return (datetime.fromtimestamp(start_ms / 1000, timezone.utc) + timedelta(hours=12)).date().isoformat()


@dataclass
class ParsedColumns:
    """A page's rows of one dataset as columns: name -> values (or an Arrow array of the
    column's type). Pages of thousands of uniform records (daily bars) are read this way, a
    list per column, instead of a dict per row."""

    dataset: str
    columns: dict
    length: int
    unlisted_tickers: tuple = ()
    """Tickers the page had records of that the crawl does not download (not in its universe)."""


BAR_FIELDS = {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v", "vwap": "vw", "transactions": "n"}
_HALF_DAY_MS = 12 * 3600 * 1000


def bar_days(starts):
    """``bar_day`` of every start, as one date32 array when all are whole milliseconds (an
    int64 array, or a list of ints)."""
    if isinstance(starts, pa.Array) or all(type(start) is int for start in starts):
        shifted = pc.add(starts if isinstance(starts, pa.Array) else pa.array(starts, pa.int64()), _HALF_DAY_MS)
        return pc.cast(pc.cast(shifted, pa.timestamp("ms")), pa.date32())
    return [bar_day(start) for start in starts]


def bar_columns(bars, tickers, days, adjusted):
    columns = {name: [bar.get(key) for bar in bars] for name, key in BAR_FIELDS.items()}
    columns.update(ticker=tickers, date=days, adjusted=[adjusted] * len(bars))
    return ParsedColumns("daily_prices", columns, len(bars))


def daily_bars_page_columns(payload, ticker):
    """A page of ``ticker``'s daily bars (range endpoint) as columns."""
    bars = payload.get("results") or []
    return bar_columns(bars, [ticker] * len(bars), bar_days([bar.get("t") for bar in bars]),
                       bool(payload.get("adjusted", False)))


def grouped_daily_page_columns(payload, day, tickers):
    """A grouped daily page (every ticker's bar of ``day``), of ``tickers`` only, as columns
    (the grouped endpoint's ``t`` is the close, so the requested day is the bar's day)."""
    results = payload.get("results") or ()
    bars = [bar for bar in results if bar.get("T") in tickers]
    columns = bar_columns(bars, [bar["T"] for bar in bars], [day] * len(bars), bool(payload.get("adjusted", False)))
    columns.unlisted_tickers = tuple(sorted({bar.get("T") for bar in results} - set(tickers) - {None}))
    return columns


def daily_bar_row(bar, ticker, adjusted, day=None):
    """An aggregates bar; ``day`` defaults to the day its start ``t`` falls on (range endpoint;
    the grouped endpoint's ``t`` is the close, so its caller passes the requested day)."""
    day = day or bar_day(bar.get("t"))
    return ParsedRow("daily_prices", {
        "ticker": ticker, "date": day, "open": bar.get("o"), "high": bar.get("h"),
        "low": bar.get("l"), "close": bar.get("c"), "volume": bar.get("v"),
        "vwap": bar.get("vw"), "transactions": bar.get("n"), "adjusted": adjusted,
    })
