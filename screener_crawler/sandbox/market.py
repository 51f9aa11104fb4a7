"""A deterministic synthetic US stock market, generated lazily per ticker.

Everything about a ticker is a pure function of ``seed`` and the ticker symbol (plus the
universe it sits in), so any subset can be served without generating the rest.

The market is one history, seen as of a day (``as_of``): the market as of a day D shows what the
market as of any later day shows for the days up to D, less what is dated after D (filings,
dividends, splits, listings, delistings). Levels are anchored on ``REFERENCE_DAY`` (today's
price, share count and revenue are that day's), history is generated forward, and what
happens after the reference day (new listings, delistings, splits, dividends, filings) is
drawn from random streams of its own, so that the market as of the reference day stays the
same whatever lies after it. Amounts are
whole dollars (multiples of 1,000); EPS is rounded to cents; share counts and EPS are as
filed: on the split basis of the row's filing date (a report restates its periods for the splits
executed before it is filed, never for later ones), annual and TTM rows included.

Statement values are kept in a neutral form: per period, one ``{column: number}`` dict per
dataset of ``fields.STATEMENTS`` whose columns are v1 line items or vX-only concepts (see
``fields.statement_line_items``). ``responses`` renders them in either API generation.
"""

import copy
import math
import random
import threading
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import namedtuple
from datetime import date, datetime, timedelta
from functools import lru_cache
from hashlib import sha256

from ..polygon.fields import STATEMENTS, V1_LINE_ITEMS, VX_CONCEPTS, VX_STATEMENT_TO_DATASET
from ..trading_calendar import is_trading_day, next_trading_day, trading_days
from .market_time import eastern_close_ms, eastern_midnight_ms, edgar_filing_day, month_end

DEFAULT_SIZE = 10070
DEFAULT_DELISTED = 1000
DEFAULT_SEED = 42
DEFAULT_AS_OF = date(2025, 11, 21)
REFERENCE_DAY = DEFAULT_AS_OF
"""The day levels are anchored on; the default as-of date shows the market of that day."""
FUTURE_DAYS = 730
"""Listings, delistings and splits are drawn for this many days after ``REFERENCE_DAY``."""
LISTINGS_PER_YEAR = 0.05
"""New listings per year after the reference day, per company active on it."""
DELISTINGS_PER_YEAR = 0.04
"""Share of the companies active on the reference day delisted per year after it."""
SPLITS_PER_YEAR = 0.01
"""Share of the companies active on the reference day that split per year after it."""
RENAMES_PER_YEAR = 0.005
"""Share of the companies active on the reference day that change their ticker per year after it."""
HISTORY_START = date(2009, 3, 29)
PRICE_START = date(2003, 1, 2)

_MASK = (1 << 64) - 1

Period = namedtuple("Period", "q start end filing_date fiscal_year fiscal_quarter accession accepted")
"""One fiscal quarter of a company; ``q`` is its index in the company's history."""

Statement = namedtuple("Statement", "ticker timeframe period start values")
"""A statement row: ``period`` is the (last) quarter it ends with, ``start`` its first day and
``values`` the ``{dataset: {column: number}}`` amounts."""

Split = namedtuple("Split", "ticker execution_date split_from split_to id historical_adjustment_factor")
Dividend = namedtuple(
    "Dividend",
    "ticker id cash_amount split_adjusted_cash_amount declaration_date ex_dividend_date record_date "
    "pay_date frequency distribution_type historical_adjustment_factor",
)
Bar = namedtuple("Bar", "day o h l c v vw n")

SECTORS = (
    # sic, description, gross margin, R&D/revenue, SG&A/revenue, bank
    ("3571", "ELECTRONIC COMPUTERS", 0.40, 0.07, 0.07, False),
    ("7372", "SERVICES-PREPACKAGED SOFTWARE", 0.70, 0.15, 0.30, False),
    ("2834", "PHARMACEUTICAL PREPARATIONS", 0.65, 0.18, 0.30, False),
    ("3674", "SEMICONDUCTORS & RELATED DEVICES", 0.50, 0.14, 0.12, False),
    ("6022", "STATE COMMERCIAL BANKS", 0.0, 0.0, 0.35, True),
    ("6021", "NATIONAL COMMERCIAL BANKS", 0.0, 0.0, 0.33, True),
    ("5331", "RETAIL-VARIETY STORES", 0.28, 0.0, 0.20, False),
    ("1311", "CRUDE PETROLEUM & NATURAL GAS", 0.35, 0.0, 0.06, False),
    ("4911", "ELECTRIC SERVICES", 0.40, 0.0, 0.12, False),
    ("3714", "MOTOR VEHICLE PARTS & ACCESSORIES", 0.18, 0.03, 0.08, False),
    ("6798", "REAL ESTATE INVESTMENT TRUSTS", 0.60, 0.0, 0.10, False),
    ("2836", "BIOLOGICAL PRODUCTS, (NO DIAGNOSTIC SUBSTANCES)", 0.55, 0.45, 0.25, False),
    ("7370", "SERVICES-COMPUTER PROGRAMMING, DATA PROCESSING, ETC.", 0.60, 0.12, 0.25, False),
    ("2080", "BEVERAGES", 0.55, 0.0, 0.30, False),
    ("3841", "SURGICAL & MEDICAL INSTRUMENTS & APPARATUS", 0.60, 0.08, 0.35, False),
    ("4813", "TELEPHONE COMMUNICATIONS (NO RADIOTELEPHONE)", 0.55, 0.0, 0.25, False),
)

KNOWN_COMPANIES = {
    "AAPL": dict(name="Apple Inc.", cik="0000320193", exchange="XNAS", sector=0, fy_end=9,
                 saturday=True, list_date=date(1980, 12, 12), quarterly_revenue=94_036_000,
                 price=270.0, shares=14_840_000_000, dividends=True,
                 splits=((date(2005, 2, 28), 1, 2), (date(2014, 6, 9), 1, 7), (date(2020, 8, 31), 1, 4)),
                 composite_figi="BBG000B9XRY4", share_class_figi="BBG001S5N8V8",
                 homepage="https://www.apple.com", employees=164000),
    "MSFT": dict(name="Microsoft Corp", cik="0000789019", exchange="XNAS", sector=1, fy_end=6,
                 saturday=False, list_date=date(1986, 3, 13), quarterly_revenue=76_441_000,
                 price=480.0, shares=7_430_000_000, dividends=True, splits=(),
                 composite_figi="BBG000BPH459", share_class_figi="BBG001S5TD05",
                 homepage="https://www.microsoft.com", employees=228000),
    "BRK.A": dict(name="Berkshire Hathaway Inc. Class A", cik="0001067983", exchange="XNYS", sector=8,
                  fy_end=12, saturday=False, list_date=date(1980, 3, 17)),
    "BRK.B": dict(name="Berkshire Hathaway Inc. Class B", cik="0001067983", exchange="XNYS", sector=8,
                  fy_end=12, saturday=False, list_date=date(1996, 5, 9)),
}

_NAME_ROOTS = (
    "Acme", "Apex", "Arbor", "Atlas", "Beacon", "Blue", "Bright", "Canyon", "Cedar", "Civic",
    "Coastal", "Crest", "Delta", "Eagle", "Echo", "Ember", "Evergreen", "Falcon", "First",
    "Frontier", "Gateway", "Global", "Granite", "Harbor", "Helix", "Horizon", "Iron", "Keystone",
    "Lakeside", "Liberty", "Lumen", "Meridian", "Summit", "Nova", "Oak", "Orion", "Pacific",
    "Peak", "Pine", "Pioneer", "Prairie", "Quantum", "Redwood", "Ridge", "River", "Sierra",
    "Silver", "Sterling", "Stone", "Sun", "Titan", "Trident", "Union", "Valley", "Vector",
    "Vertex", "Vista", "West", "Willow", "Zenith",
)
_NAME_MIDDLES = (
    "Therapeutics", "Systems", "Energy", "Holdings", "Financial", "Bancorp", "Technologies",
    "Industries", "Brands", "Networks", "Biosciences", "Resources", "Semiconductor", "Software",
    "Retail", "Logistics", "Health", "Materials", "Capital", "Communications", "Labs", "Foods",
)
_NAME_SUFFIXES = ("Inc.", "Corp", "Corporation", "Co.", "Holdings Inc.", "Group Inc.", "Ltd.", "plc")
_EXCHANGES = ("XNAS", "XNAS", "XNAS", "XNYS", "XNYS", "XASE", "ARCX", "BATS")
_FY_ENDS = (12,) * 14 + (3, 6, 6, 9, 9, 1, 2, 5, 8, 10)
_SPLIT_RATIOS = ((1, 2), (1, 2), (1, 3), (2, 3), (1, 4), (1, 5), (1, 10), (1, 20))
_REVERSE_RATIOS = ((10, 1), (8, 1), (20, 1), (5, 1))


def _mix(x):
    """splitmix64 finaliser: a fast, well-spread 64-bit hash step."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _unit(h, i):
    """A uniform number in [0, 1) determined by hash ``h`` and integer ``i``."""
    return (_mix(h ^ ((i * 0xD1B54A32D192ED03) & _MASK)) >> 11) * (1.0 / 9007199254740992.0)


def _gauss(h, i):
    """An approximately standard-normal number determined by ``h`` and ``i``."""
    return (_unit(h, 3 * i) + _unit(h, 3 * i + 1) + _unit(h, 3 * i + 2) - 1.5) * 2.0


def _fast_gauss(rng):
    """``gauss(mu, sigma)`` from a Random: sum of three uniforms, several times faster than ``rng.gauss``."""
    r = rng.random
    return lambda mu, sigma: mu + sigma * (r() + r() + r() - 1.5) * 2.0


def _key(seed, *parts):
    return int.from_bytes(sha256("|".join(map(str, (seed,) + parts)).encode()).digest()[:8], "big")


def _k(x):
    """Thousands -> whole dollars."""
    return (int(x + 0.5) if x >= 0 else -int(0.5 - x)) * 1000


PRICE_FLOOR = 0.25
"""Dollars added to every split-adjusted trend price (today's price is kept where it exceeds it twice)."""
MONTHS_CACHED = 32
"""Months of per-ticker bar constants kept for the grouped-daily endpoint: a crawl lists a
month or two at a time, and several crawls (shards, benchmarks) may list different months."""
_SHAPE_BITS = 16
_SHAPE_MASK = (1 << _SHAPE_BITS) - 1
_BAR_BODY = '"v":%d.0,"vw":%.4f,"o":%.4f,"c":%.4f,"h":%.4f,"l":%.4f,"t":%s,"n":%d}'
_BAR_FMT = "{" + _BAR_BODY


def _split_multiplier(splits, day):
    m = 1.0
    for when, frm, to in splits:
        if when > day:
            m *= frm / to
    return m


class PriceCalendar:
    """Every trading day from ``PRICE_START`` to ``as_of``, indexed ``j = 0, 1, ...``, with per-day
    tables the bar generator needs (global month index, position in the month, timestamps)."""

    def __init__(self, as_of):
        self.days = trading_days(PRICE_START, as_of)
        self.ordinals = [d.toordinal() for d in self.days]
        self.index = {o: j for j, o in enumerate(self.ordinals)}
        self.month = [(d.year - PRICE_START.year) * 12 + d.month - 1 for d in self.days]
        self.frac = [(d.day - 1) / 31.0 for d in self.days]
        self.midnight_text = [str(eastern_midnight_ms(d)) for d in self.days]
        self.close_text = [str(eastern_close_ms(d)) for d in self.days]

    def index_on_or_after(self, day):
        return bisect_left(self.ordinals, day.toordinal())

    def index_on_or_before(self, day):
        return bisect_right(self.ordinals, day.toordinal()) - 1

    def month_span(self, gm):
        """First and last index of global month ``gm``."""
        y, m = divmod(gm, 12)
        start = date(PRICE_START.year + y, m + 1, 1)
        end = date(start.year + (m == 11), 1 if m == 11 else m + 2, 1) - timedelta(days=1)
        return self.index_on_or_after(start), self.index_on_or_before(end)


class Company:
    """Static profile of one listed company; derived from seed and ticker only."""

    __slots__ = (
        "ticker", "index", "name", "cik", "has_cik", "composite_figi", "share_class_figi", "exchange",
        "sector", "fy_end", "saturday", "list_date", "delisted", "delisted_on", "has_financials", "vx_q4", "v1_q4",
        "pays_dividends", "splits", "former_ticker", "change_date", "hash", "revenue0", "growth",
        "volatility", "margin_shift", "price_today", "shares_today", "has_nci", "has_preferred",
        "has_inventory", "homepage", "employees", "peers", "last_updated", "reference_multiplier", "key",
    )
    # ``key`` is the company's symbol on the reference day, which its data are generated from.
    # ``delisted`` is the delisting day as of the market's as-of date (None while listed);
    # ``delisted_on`` the day it is delisted, also when that lies after the as-of date.

    @property
    def bank(self):
        return SECTORS[self.sector][5]

    @property
    def active(self):
        return self.delisted is None

    def split_multiplier(self, day):
        """Shares in issue on ``day`` per share of the reference day's basis (the splits between
        the two days)."""
        return _split_multiplier(self.splits, day) / self.reference_multiplier


class SyntheticMarket:
    """The synthetic universe as of ``as_of``: ``size`` common stocks active on the reference day
    plus ``delisted`` ones delisted before it, less those not yet listed or already delisted on
    ``as_of``, plus those listed between the reference day and ``as_of``."""

    def __init__(self, size=DEFAULT_SIZE, delisted=DEFAULT_DELISTED, seed=DEFAULT_SEED, as_of=DEFAULT_AS_OF,
                 history_start=None, turnover=1.0):
        self.size, self.n_delisted, self.seed = size, delisted, seed
        self.turnover = turnover
        """Multiplies the rates of listings, delistings and splits after the reference day (a
        small market that still meets some in a few days, for tests of an update)."""
        self.as_of = as_of
        self.history_start = history_start
        """None: statements from ``HISTORY_START``, dividends from a company's early years; a date:
        neither before it (a short market, for tests that need every dataset but little history)."""
        self.horizon = max(as_of, REFERENCE_DAY)
        """Data are generated up to this day (levels are anchored on the reference day)."""
        every_ticker = self._make_tickers()
        self.reference_active = every_ticker[:size]
        """The companies active on the reference day (the pool of related companies)."""
        self.reference_delisted = every_ticker[size:size + delisted]
        self._stable_index = {t: i for i, t in enumerate(every_ticker)}
        self._listing_day = self._future_listing_days(every_ticker[size + delisted:])
        self._renames = self._future_renames(set(every_ticker))
        self.renamed = {old: new for old, (new, day) in self._renames.items() if day <= as_of}
        """Symbol on the reference day -> the symbol the company took since, by ``as_of``."""
        self._symbol_on_reference_day = {new: old for old, new in self.renamed.items()}
        self.company = lru_cache(maxsize=None)(self._company)
        self.tickers = [self.renamed.get(t, t) for t in every_ticker if self._listed_by(t, as_of)]
        """Every ticker listed by ``as_of``, active or delisted."""
        self.index = {t: self._stable_index[self._symbol_on_reference_day.get(t, t)] for t in self.tickers}
        self._active_tickers = None
        self.periods = lru_cache(maxsize=None)(self._periods)
        self._periods_to_horizon = lru_cache(maxsize=None)(self._make_periods_to_horizon)
        self._streams = {"income_statements": self._income_stream, "balance_sheets": self._balance_stream,
                         "cash_flow": self._cash_flow_stream}
        self.series = lru_cache(maxsize=4096)(self._series)
        self.aggregates = lru_cache(maxsize=1024)(self._aggregates)
        self._drivers = lru_cache(maxsize=None)(self._make_drivers)
        self._knots = lru_cache(maxsize=None)(self._make_knots)
        self.dividends = lru_cache(maxsize=None)(self._dividends)
        self.splits = lru_cache(maxsize=None)(self._splits)
        self._sector_members = None
        self._delisted_listings = None
        self._bar_cache = {}
        self._month_columns = {}
        self._month_lock = threading.Lock()
        self._calendar = None
        self._shape_table = None

    @property
    def active_tickers(self):
        """The tickers listed and not delisted on ``as_of``."""
        if self._active_tickers is None:
            self._active_tickers = [t for t in self.tickers if self.company(t).delisted is None]
        return self._active_tickers

    def _may_be_delisted(self):
        """The tickers that can be delisted on ``as_of``, in ``tickers`` order."""
        if self.as_of <= REFERENCE_DAY:
            return [t for t in self.reference_delisted if t in self.index]
        return self.tickers

    @property
    def calendar(self):
        if self._calendar is None:
            self._calendar = PriceCalendar(self.as_of)
        return self._calendar

    def _shapes(self):
        """The table of daily bar shapes: ``(close noise, open/close, high/close, low/close,
        vwap/close, volume factor, 1 / trade size)``; the bar of a ticker on calendar day ``j`` takes
        the shape ``offset + j`` (the table wraps around, so that index never overflows)."""
        if self._shape_table is None:
            rng = random.Random(_key(self.seed, "bar shapes"))
            gauss, r = rng.gauss, rng.random
            table = []
            for _ in range(1 << _SHAPE_BITS):
                cn = math.exp(0.012 * gauss(0.0, 1.0))
                orr = math.exp(0.008 * gauss(0.0, 1.0))
                hr = max(orr, 1.0) * (1 + 0.012 * r())
                lr = min(orr, 1.0) * (1 - 0.012 * r())
                table.append((cn, orr, hr, lr, (hr + lr + 1.0) / 3, math.exp(0.5 * gauss(0.0, 1.0)),
                              1.0 / (80 + 200 * r())))
            self._shape_table = table + table[: len(self.calendar.days) + 1]
        return self._shape_table

    # --- universe -------------------------------------------------------------------------

    def _make_tickers(self):
        """Active on the reference day, sorted; delisted before it, sorted; listed after it, in
        the order drawn (``_future_listing_days`` draws their days in the same order)."""
        rng = random.Random(_key(self.seed, "universe", self.size, self.n_delisted))
        wanted = self.size + self.n_delisted
        chosen, seen = [], set()
        for known in KNOWN_COMPANIES:
            if len(chosen) < self.size:
                chosen.append(known)
                seen.add(known)
        lengths = (1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 5)
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        while len(chosen) < wanted:
            n = rng.choice(lengths)
            t = "".join(rng.choice(letters) for _ in range(n))
            if rng.random() < 0.003 and n <= 3:
                t += "." + rng.choice("AB")
            if t in seen:
                continue
            seen.add(t)
            chosen.append(t)
        active, delisted = sorted(chosen[: self.size]), sorted(chosen[self.size:])
        return active + delisted + self._new_symbols(seen, lengths, letters)

    def _new_symbols(self, seen, lengths, letters):
        """Symbols of the companies listed after the reference day (none taken before)."""
        rng = random.Random(_key(self.seed, "listings after the reference day", self.size, self.n_delisted))
        wanted, chosen = round(self.size * LISTINGS_PER_YEAR * self.turnover * FUTURE_DAYS / 365), []
        while len(chosen) < wanted:
            t = "".join(rng.choice(letters) for _ in range(rng.choice(lengths)))
            if t not in seen:
                seen.add(t)
                chosen.append(t)
        return chosen

    def _future_listing_days(self, tickers):
        rng = random.Random(_key(self.seed, "listing days after the reference day", self.size))
        return {t: next_trading_day(REFERENCE_DAY + timedelta(days=1 + rng.randrange(FUTURE_DAYS))) for t in tickers}

    def _listed_by(self, ticker, day):
        listing_day = self._listing_day.get(ticker)
        if listing_day is not None:
            return listing_day <= day
        return day >= REFERENCE_DAY or self.company(ticker).list_date <= day

    def _company(self, ticker):
        """The company listed under ``ticker`` on ``as_of``, None when there is none (it lists
        after ``as_of``, or has taken another ticker by then). A company is generated from its
        symbol on the reference day, whatever it is called since."""
        key = self._symbol_on_reference_day.get(ticker, ticker)
        if key not in self._stable_index or self._listing_day.get(key, self.as_of) > self.as_of \
                or (key == ticker and ticker in self.renamed):
            return None
        c = self._make_company(key)
        if key != ticker:
            c.ticker, c.former_ticker, c.change_date = ticker, key, self._renames[key][1]
        return c

    def _make_company(self, ticker):
        idx = self._stable_index[ticker]
        h = _key(self.seed, ticker)
        rng = random.Random(h)
        known = KNOWN_COMPANIES.get(ticker, {})
        c = Company()
        c.ticker, c.key, c.index, c.hash = ticker, ticker, idx, h
        c.sector = known.get("sector", self._sector_of(ticker))
        roots = rng.choice(_NAME_ROOTS), rng.choice(_NAME_MIDDLES), rng.choice(_NAME_SUFFIXES)
        c.name = known.get("name") or " ".join(roots)
        cik = 1000000 + (h >> 8) % 1900000
        c.cik = known.get("cik") or f"{cik:010d}"
        c.has_cik = bool(known) or rng.random() < 0.92
        c.composite_figi = known.get("composite_figi") or "BBG" + "".join(
            rng.choice("0123456789BCDFGHJKLMNPQRSTVWXYZ") for _ in range(9))
        c.share_class_figi = known.get("share_class_figi") or "BBG" + "".join(
            rng.choice("0123456789BCDFGHJKLMNPQRSTVWXYZ") for _ in range(9))
        c.exchange = known.get("exchange") or rng.choice(_EXCHANGES)
        c.fy_end = known.get("fy_end") or rng.choice(_FY_ENDS)
        c.saturday = known.get("saturday", rng.random() < 0.12)
        c.list_date = known.get("list_date") or date(1975, 1, 1) + timedelta(days=rng.randrange(365 * 49))
        c.list_date = self._listing_day.get(ticker) or next_trading_day(c.list_date)
        c.delisted_on = None
        if self.size <= idx < self.size + self.n_delisted:
            span = (REFERENCE_DAY - timedelta(days=30) - max(c.list_date, date(2008, 1, 1))).days
            if span < 400:
                c.list_date = date(2004, 1, 5) + timedelta(days=rng.randrange(365 * 3))
                span = (REFERENCE_DAY - timedelta(days=30) - date(2008, 1, 1)).days
            c.delisted_on = next_trading_day(
                max(c.list_date, date(2008, 1, 1)) + timedelta(days=365 + rng.randrange(max(span - 365, 1))))
        elif idx < self.size and ticker not in KNOWN_COMPANIES:
            c.delisted_on = self._future_delisting(c)
        c.has_financials = bool(known) or rng.random() >= 0.05
        c.vx_q4 = rng.random() < 0.08
        c.v1_q4 = rng.random() < 0.9
        c.pays_dividends = known.get("dividends", rng.random() < 0.4)
        c.has_nci = rng.random() < 0.15
        c.has_preferred = rng.random() < 0.05
        c.has_inventory = not SECTORS[c.sector][5] and rng.random() < 0.7
        c.growth = rng.gauss(0.012, 0.02)
        c.volatility = abs(rng.gauss(0.06, 0.03)) + 0.01
        c.margin_shift = rng.gauss(0.0, 0.12) - (0.25 if rng.random() < 0.2 else 0.0)
        c.revenue0 = known.get("quarterly_revenue") or math.exp(rng.gauss(math.log(60_000), 1.8))
        c.price_today = known.get("price") or math.exp(rng.gauss(math.log(30.0), 1.1))
        ps = math.exp(rng.gauss(math.log(2.0), 0.8))
        c.shares_today = known.get("shares") or max(
            1_000_000, int(c.revenue0 * 4 * 1000 * ps / c.price_today) // 1000 * 1000)
        c.splits = self._split_plan(c, rng, known) + self._future_split(c, known)
        c.reference_multiplier = _split_multiplier(c.splits, REFERENCE_DAY)
        c.last_updated = None
        c.former_ticker, c.change_date = None, None
        if rng.random() < 0.02:
            c.former_ticker = self._former_ticker(rng)
            lo = max(c.list_date, date(2005, 1, 1))
            hi = min(c.delisted_on or REFERENCE_DAY, REFERENCE_DAY)
            if (hi - lo).days > 60:
                c.change_date = next_trading_day(lo + timedelta(days=rng.randrange((hi - lo).days - 30)))
            else:
                c.former_ticker = None
        c.homepage = known.get("homepage") or "https://www." + c.name.split()[0].lower() + \
            c.name.split()[1].lower()[:6] + ".com"
        c.employees = known.get("employees") or max(5, int(c.revenue0 * 4 / 300))
        c.delisted = c.delisted_on if c.delisted_on is not None and c.delisted_on <= self.as_of else None
        return c

    def _future_renames(self, taken):
        """Reference symbol -> (new symbol, day) of the companies active on the reference day
        that change their ticker after it (not one that changed it before, nor one delisted
        within a month of the day)."""
        renames = {}
        rng = random.Random(_key(self.seed, "renames after the reference day", self.size, self.n_delisted))
        candidates = [t for t in self.reference_active if t not in KNOWN_COMPANIES]
        count = min(len(candidates), round(self.size * RENAMES_PER_YEAR * self.turnover * FUTURE_DAYS / 365))
        for old in rng.sample(candidates, count):
            day = next_trading_day(REFERENCE_DAY + timedelta(days=1 + rng.randrange(FUTURE_DAYS)))
            new = self._former_ticker(rng, taken)
            taken.add(new)
            c = self._make_company(old)
            if c.former_ticker is None and (c.delisted_on is None or c.delisted_on > day + timedelta(days=30)):
                renames[old] = (new, day)
        return renames

    def _future_delisting(self, c):
        """The day a company active on the reference day is delisted after it, or None."""
        rng = random.Random(c.hash ^ 0xDE1157)
        if rng.random() >= DELISTINGS_PER_YEAR * self.turnover * FUTURE_DAYS / 365:
            return None
        return next_trading_day(REFERENCE_DAY + timedelta(days=1 + rng.randrange(FUTURE_DAYS)))

    def _future_split(self, c, known):
        """A split after the reference day, at least 30 days before a delisting: () or one
        ``(day, from, to)``."""
        rng = random.Random(c.hash ^ 0x5B117)
        if known or rng.random() >= SPLITS_PER_YEAR * self.turnover * FUTURE_DAYS / 365:
            return ()
        when = next_trading_day(max(REFERENCE_DAY, c.list_date + timedelta(days=200))
                                + timedelta(days=1 + rng.randrange(FUTURE_DAYS)))
        if c.delisted_on is not None and when > c.delisted_on - timedelta(days=30):
            return ()
        frm, to = rng.choice(_REVERSE_RATIOS) if rng.random() < 0.2 else rng.choice(_SPLIT_RATIOS)
        return ((when, frm, to),)

    def delisted_listings(self):
        """The reference listing's delisted rows: every delisted company, plus companies that once
        traded under a symbol an active company holds now (tickers are reused), plus a few
        listings repeated with an older ``last_updated`` (as the real listing repeats some)."""
        if self._delisted_listings is None:
            reference_delisted = self.reference_delisted
            count = max(1, self.n_delisted // 200) if self.n_delisted else 0
            rng = random.Random(_key(self.seed, "listings", self.size, self.n_delisted))
            active = [t for t in self.reference_active if t not in KNOWN_COMPANIES]
            reused = rng.sample(active, min(count, len(active))) + rng.sample(reference_delisted, count)
            former = [self._former_holder(self._make_company(t), rng) for t in reused]
            repeated = set(rng.sample(reference_delisted, count))
            staleness = {t: timedelta(days=rng.randrange(30, 400)) for t in reference_delisted if t in repeated}
            former = [c for c in former if c.delisted <= self.as_of]
            listings = []
            for company in (self.company(t) for t in self._may_be_delisted() if self.company(t).delisted):
                if company.ticker in staleness:
                    # the older copy first: the newest must win, not the first
                    stale = copy.copy(company)
                    stale.last_updated = company.delisted - staleness[company.ticker]
                    listings.append(stale)
                listings.append(company)
            self._delisted_listings = listings + former
        return self._delisted_listings

    @staticmethod
    def _former_holder(current, rng):
        """A company that listed under ``current``'s symbol and was delisted before it listed."""
        former = copy.copy(current)
        former.name = " ".join((rng.choice(_NAME_ROOTS), rng.choice(_NAME_MIDDLES), rng.choice(_NAME_SUFFIXES)))
        former.cik = f"{1000000 + rng.randrange(1900000):010d}"
        former.has_cik = True
        former.composite_figi, former.share_class_figi = (
            "BBG" + "".join(rng.choice("0123456789BCDFGHJKLMNPQRSTVWXYZ") for _ in range(9)) for _ in range(2))
        former.delisted = former.delisted_on = current.list_date - timedelta(days=rng.randrange(30, 3000))
        former.list_date = former.delisted - timedelta(days=rng.randrange(400, 5000))
        former.last_updated = None
        return former

    def _sector_of(self, ticker):
        return _key(self.seed, ticker, "sector") % len(SECTORS)

    def _former_ticker(self, rng, taken=None):
        """A symbol not in the reference day's universe (a later listing may reuse it), nor in
        ``taken``."""
        while True:
            t = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.choice((3, 4))))
            if self._stable_index.get(t, self.size + self.n_delisted) >= self.size + self.n_delisted \
                    and (taken is None or t not in taken):
                return t

    def _split_plan(self, c, rng, known):
        if "splits" in known:
            return tuple(known["splits"])
        if rng.random() >= 0.03:
            return ()
        lo = max(c.list_date, PRICE_START) + timedelta(days=200)
        hi = min(c.delisted_on or REFERENCE_DAY, REFERENCE_DAY) - timedelta(days=30)
        if hi <= lo:
            return ()
        out = []
        for _ in range(rng.choice((1, 1, 1, 2))):
            when = next_trading_day(lo + timedelta(days=rng.randrange((hi - lo).days)))
            frm, to = rng.choice(_REVERSE_RATIOS) if rng.random() < 0.2 else rng.choice(_SPLIT_RATIOS)
            if all(abs((when - w).days) > 90 for w, _, _ in out):
                out.append((when, frm, to))
        return tuple(sorted(out))

    def related(self, ticker):
        """About ten peers active on the reference day, preferring the same industry, each under
        its symbol on ``as_of``."""
        c = self.company(ticker)
        if self._sector_members is None:
            members = {}
            for t in self.reference_active:
                members.setdefault(self._sector_of(t) if t not in KNOWN_COMPANIES
                                   else KNOWN_COMPANIES[t]["sector"], []).append(t)
            self._sector_members = members
        pool = [t for t in self._sector_members.get(c.sector, ()) if t != c.key]
        rng = random.Random(_key(self.seed, c.key, "related"))
        n = min(len(pool), rng.choice((8, 9, 10, 10, 10, 10, 11, 12)))
        return [self.renamed.get(t, t) for t in rng.sample(pool, n)]

    # --- fundamentals ---------------------------------------------------------------------

    def _periods(self, ticker):
        """The company's fiscal quarters whose report is filed by ``as_of`` (and before delisting)."""
        every = self._periods_to_horizon(ticker)
        if not every or every[-1].filing_date <= self.as_of:
            return every
        return every[:bisect_right([p.filing_date for p in every], self.as_of)]

    def _reference_quarters(self, ticker):
        """How many quarters the company has filed by the reference day (or its delisting)."""
        return bisect_right([p.filing_date for p in self._periods_to_horizon(ticker)], REFERENCE_DAY)

    def _make_periods_to_horizon(self, ticker):
        """The company's fiscal quarters whose report is filed by ``horizon`` (and before delisting)."""
        c = self.company(ticker)
        if c is None or not c.has_financials:
            return ()
        first = max(self.history_start or HISTORY_START, c.list_date + timedelta(days=60))
        stop = min(self.horizon, c.delisted_on or self.horizon)
        out, prev_end = [], None
        y, m = first.year - 1, c.fy_end
        h, sat, fy_end, cik = c.hash, c.saturday, c.fy_end, c.cik
        day = timedelta(days=1)
        while True:
            end = month_end(y, m, sat)
            if end >= first or prev_end is not None:
                fq = ((m - fy_end - 1) % 12) // 3 + 1
                o = end.toordinal()
                u = (_mix(h ^ ((o * 0xD1B54A32D192ED03) & _MASK)) >> 11) * (1.0 / 9007199254740992.0)
                filed = edgar_filing_day(end + timedelta(days=((55 if fq == 4 else 25) + int(u * 21))))
                if filed > stop:
                    break
                if end >= first:
                    seq = _mix(h ^ o) % 90000 + 1
                    fy = y if m <= fy_end else y + 1
                    accession = "%s-%02d-%06d" % (cik, filed.year % 100, seq)
                    accepted = "%04d%02d%02d%02d%02d%02d" % (filed.year, filed.month, filed.day, 16 + (seq % 2),
                                                             seq % 60, (seq // 60) % 60)
                    start = (prev_end + day) if prev_end else \
                        month_end(*((y, m - 3) if m > 3 else (y - 1, m + 9)), sat) + day
                    out.append(Period(len(out), start, end, filed, fy, fq, accession, accepted))
                prev_end = end
            m += 3
            if m > 12:
                y, m = y + 1, m - 12
        return tuple(out)

    def _make_drivers(self, ticker):
        """Per-quarter levels (thousands of dollars unless noted): revenue, cash, debt, shares;
        anchored on the last quarter filed by the reference day, whose shares are the company's
        shares today."""
        c, periods = self.company(ticker), self._periods_to_horizon(ticker)
        n = self._reference_quarters(ticker)
        rng = random.Random(c.hash ^ 0xF00D)
        gauss = _fast_gauss(rng)
        rev, cash, debt, eq_ratio, aoci, shares = (array("d") for _ in range(6))
        back = c.growth * n
        level = math.log(c.revenue0) - back
        cash_level = c.revenue0 * rng.uniform(0.3, 1.5) * math.exp(-back)
        debt_level = c.revenue0 * rng.uniform(0.0, 2.5) * math.exp(-back)
        eq = rng.uniform(0.2, 0.6) if c.margin_shift > -0.2 else rng.uniform(-0.1, 0.3)
        oci = c.revenue0 * gauss(0, 0.05)
        sh = c.shares_today * math.exp(-gauss(0.0, 0.004) * n - 0.002 * n)
        season = [gauss(0, 0.05) for _ in range(4)]
        cash.append(cash_level)
        aoci.append(oci)
        r, exp, growth, vol = rng.random, math.exp, c.growth, c.volatility
        rev_l, cash_l, debt_l, eq_l, aoci_l, shares_l = [], [], [], [], [], []
        for p in periods:
            # gauss(mu, sigma) inlined: mu + sigma * (r() + r() + r() - 1.5) * 2.0
            level += growth + (0 + vol * (r() + r() + r() - 1.5) * 2.0)
            R = exp(level + season[p.fiscal_quarter - 1])
            rev_l.append(R)
            cash_level = max(cash_level * exp(growth + 0.15 * (r() + r() + r() - 1.5) * 2.0), R * 0.05)
            cash_l.append(cash_level)
            debt_level = max(0.0, debt_level * exp(growth + 0.08 * (r() + r() + r() - 1.5) * 2.0))
            debt_l.append(debt_level)
            eq = min(0.85, max(-0.4, eq + (0 + 0.02 * (r() + r() + r() - 1.5) * 2.0)))
            eq_l.append(eq)
            oci += R * (0 + 0.01 * (r() + r() + r() - 1.5) * 2.0)
            aoci_l.append(oci)
            sh *= exp(0.002 + 0.004 * (r() + r() + r() - 1.5) * 2.0)
            shares_l.append(sh)
        rev.extend(rev_l)
        cash.extend(cash_l)
        debt.extend(debt_l)
        eq_ratio.extend(eq_l)
        aoci.extend(aoci_l)
        shares.extend(shares_l)
        if n:
            scale = c.shares_today / shares[n - 1]
            for i in range(len(shares)):
                shares[i] *= scale
        return rev, cash, debt, eq_ratio, aoci, shares

    def quarter(self, ticker, q, datasets=STATEMENTS):
        """Amounts of quarter ``q``: ``{dataset: {column: number}}``."""
        return {ds: self.series(ticker, ds)[q] for ds in datasets}

    def _series(self, ticker, dataset):
        """The amounts of ``dataset`` of every quarter of a ticker (a tuple of dicts, by ``q``)."""
        return tuple(self.stream(ticker, dataset))

    def stream(self, ticker, dataset):
        """Iterator over the quarters' amounts of ``dataset``, ``q = 0, 1, ...``: a ticker's quarters
        are generated in one sequential pass from one random stream per dataset."""
        return self._streams[dataset](ticker)

    def _income_stream(self, ticker):
        c = self.company(ticker)
        periods = self.periods(ticker)
        drivers = self._drivers(ticker)
        rng = random.Random(c.hash ^ 0x1C0E)
        for p in periods:
            yield self._income(c, p, drivers, rng)

    def _balance_stream(self, ticker):
        c = self.company(ticker)
        periods = self.periods(ticker)
        drivers = self._drivers(ticker)
        rng = random.Random(c.hash ^ 0xBA1A)
        for p in periods:
            yield self._balance(c, p.q, drivers, rng)

    def _cash_flow_stream(self, ticker):
        c = self.company(ticker)
        drivers = self._drivers(ticker)
        rng = random.Random(c.hash ^ 0xCA5F)
        for q, inc in enumerate(self._income_stream(ticker)):
            yield self._cash_flow(c, q, drivers, rng, inc)

    def _income(self, c, p, drivers, rng):
        q = p.q
        rev_, cash_, debt_, eq_, aoci_, shares_ = drivers
        g = _fast_gauss(rng)
        _, _, gm, rd_r, sga_r, bank = SECTORS[c.sector]
        R = rev_[q]
        inc = {}

        inc["revenue"] = revenue = _k(R)
        margin = c.margin_shift + g(0, 0.02)
        if bank:
            cost = 0
        else:
            cost = _k(R * min(0.97, max(0.05, 1 - gm - margin * 0.5 + g(0, 0.01))))
            inc["cost_of_revenue"] = cost
            inc["gross_profit"] = revenue - cost
        rd = _k(R * max(0.0, rd_r * (1 + g(0, 0.05)))) if rd_r else 0
        sga = _k(R * max(0.01, sga_r * (1 + g(0, 0.05)) - margin * 0.5))
        other_op = _k(R * 0.01 * abs(g(0, 1))) if rng.random() < 0.3 else 0
        if rd:
            inc["research_development"] = rd
        inc["selling_general_administrative"] = sga
        inc["other_operating_expenses"] = other_op
        opex = rd + sga + other_op
        inc["total_operating_expenses"] = opex
        operating = revenue - cost - opex
        inc["operating_income"] = operating
        da = _k(R * abs(g(0.04, 0.01)))
        inc["depreciation_depletion_amortization"] = da
        interest_exp = _k(debt_[q] * 0.012)
        interest_inc = _k(cash_[q] * 0.005)
        other_inc = _k(R * g(0, 0.01))
        if interest_exp:
            inc["interest_expense"] = interest_exp
        if interest_inc:
            inc["interest_income"] = interest_inc
        inc["other_income_expense"] = other_inc
        other_total = interest_inc - interest_exp + other_inc
        inc["total_other_income_expense"] = other_total
        pretax = operating + other_total
        inc["income_before_income_taxes"] = pretax
        taxes = _k(max(0.0, pretax / 1000 * min(0.35, max(0.0, g(0.21, 0.04))))) if pretax > 0 else \
            _k(pretax / 1000 * 0.02)
        inc["income_taxes"] = taxes
        net = pretax - taxes
        inc["consolidated_net_income_loss"] = net
        nci = _k(net / 1000 * 0.04) if c.has_nci else 0
        if c.has_nci:
            inc["noncontrolling_interest"] = nci
        pref = _k(R * 0.002) if c.has_preferred else 0
        if c.has_preferred:
            inc["preferred_stock_dividends_declared"] = pref
        to_common = net - nci - pref
        inc["net_income_loss_attributable_common_shareholders"] = to_common
        mult = c.split_multiplier(p.filing_date)
        basic = int(shares_[q] * mult) // 1000 * 1000 or 1000
        diluted = basic if to_common < 0 else int(basic * (1 + abs(g(0.006, 0.004)))) // 1000 * 1000
        inc["basic_shares_outstanding"] = basic
        inc["diluted_shares_outstanding"] = diluted
        inc["basic_earnings_per_share"] = round(to_common / basic, 2)
        inc["diluted_earnings_per_share"] = round(to_common / diluted, 2)
        inc["ebitda"] = operating + da
        oci = _k(aoci_[q + 1] - aoci_[q])
        inc["benefits_costs_expenses"] = revenue - pretax
        inc["costs_and_expenses"] = revenue - pretax
        inc["income_loss_from_continuing_operations_after_tax"] = net
        inc["net_income_loss_attributable_to_parent"] = net - nci
        inc["other_comprehensive_income_loss"] = oci
        inc["other_comprehensive_income_loss_attributable_to_parent"] = oci
        inc["comprehensive_income_loss"] = net + oci
        inc["comprehensive_income_loss_attributable_to_parent"] = net - nci + oci
        if c.has_nci:
            inc["comprehensive_income_loss_attributable_to_noncontrolling_interest"] = nci

        return inc

    def _balance(self, c, q, drivers, rng):
        rev_, cash_, debt_, eq_, aoci_, shares_ = drivers
        g = _fast_gauss(rng)
        _, _, gm, rd_r, sga_r, bank = SECTORS[c.sector]
        R = rev_[q]
        bal = {}
        cash = _k(cash_[q + 1])
        bal["cash_and_equivalents"] = cash
        sti = _k(R * abs(g(0.3, 0.1))) if rng.random() < 0.6 else 0
        receivables = _k(R * abs(g(0.45, 0.1)))
        inventories = _k(R * abs(g(0.3, 0.08))) if c.has_inventory else 0
        other_ca = _k(R * abs(g(0.1, 0.03)))
        ppe = _k(R * abs(g(1.2, 0.3)))
        goodwill = _k(R * abs(g(0.5, 0.2))) if c.index % 3 else 0
        intangibles = _k(R * abs(g(0.2, 0.1))) if goodwill else 0
        other_assets = _k(R * abs(g(0.4, 0.15)))
        for col, v in (("short_term_investments", sti), ("receivables", receivables),
                       ("inventories", inventories), ("goodwill", goodwill),
                       ("intangible_assets_net", intangibles)):
            if v:
                bal[col] = v
        bal["other_current_assets"] = other_ca
        bal["property_plant_equipment_net"] = ppe
        current_assets = cash + sti + receivables + inventories + other_ca
        payables = _k(R * abs(g(0.5, 0.1)))
        debt_current = _k(debt_[q] * 0.1)
        accrued = _k(R * abs(g(0.3, 0.08)))
        deferred = _k(R * abs(g(0.08, 0.03))) if rng.random() < 0.5 else 0
        current_liabilities = payables + debt_current + accrued + deferred
        long_debt = _k(debt_[q] * 0.9)
        bal["accounts_payable"] = payables
        bal["debt_current"] = debt_current
        bal["accrued_and_other_current_liabilities"] = accrued
        if deferred:
            bal["deferred_revenue_current"] = deferred
        bal["long_term_debt_and_capital_lease_obligations"] = long_debt
        base_assets = current_assets + ppe + goodwill + intangibles + other_assets
        parent_equity = _k(base_assets / 1000 * eq_[q])
        nci_equity = _k(parent_equity / 1000 * 0.05) if c.has_nci else 0
        equity = parent_equity + nci_equity
        other_ncl = base_assets - equity - current_liabilities - long_debt
        floor = _k(R * 0.05)
        if other_ncl < floor:
            other_assets += floor - other_ncl
            other_ncl = floor
        bal["other_assets"] = other_assets
        bal["other_noncurrent_liabilities"] = other_ncl
        total_assets = current_assets + ppe + goodwill + intangibles + other_assets
        liabilities = current_liabilities + long_debt + other_ncl
        common = _k(R * 0.8)
        aoci = _k(aoci_[q + 1])
        treasury = -_k(R * 0.3) if c.index % 4 == 0 else 0
        pref_stock = _k(R * 0.1) if c.has_preferred else 0
        bal["common_stock"] = common
        bal["accumulated_other_comprehensive_income"] = aoci
        if treasury:
            bal["treasury_stock"] = treasury
        if pref_stock:
            bal["preferred_stock"] = pref_stock
        bal["retained_earnings_deficit"] = parent_equity - common - aoci - treasury - pref_stock
        bal["total_equity_attributable_to_parent"] = parent_equity
        if c.has_nci:
            bal["noncontrolling_interest"] = nci_equity
        bal["total_equity"] = equity
        bal["total_liabilities"] = liabilities
        bal["total_assets"] = total_assets
        bal["total_liabilities_and_equity"] = liabilities + equity
        if not bank:
            bal["total_current_assets"] = current_assets
            bal["total_current_liabilities"] = current_liabilities
            bal["noncurrent_assets"] = total_assets - current_assets
            bal["noncurrent_liabilities"] = liabilities - current_liabilities

        return bal

    def _cash_flow(self, c, q, drivers, rng, inc):
        rev_, cash_, debt_, eq_, aoci_, shares_ = drivers
        g = _fast_gauss(rng)
        _, _, gm, rd_r, sga_r, bank = SECTORS[c.sector]
        R = rev_[q]
        net, da = inc["consolidated_net_income_loss"], inc["depreciation_depletion_amortization"]
        to_common = inc["net_income_loss_attributable_common_shareholders"]
        cash = _k(cash_[q + 1])
        cf = {}
        change = cash - _k(cash_[q])
        working = _k(R * g(0, 0.03))
        other_op_cf = _k(R * g(0, 0.01))
        operating_cf = net + da + working + other_op_cf
        capex = -_k(R * abs(g(0.05, 0.02)))
        sale_ppe = _k(R * 0.005) if rng.random() < 0.2 else 0
        other_inv = _k(R * g(0, 0.03))
        investing = capex + sale_ppe + other_inv
        fx = _k(R * g(0, 0.002)) if c.index % 5 == 0 else 0
        dividends = -_k(to_common / 1000 * 0.3) if c.pays_dividends and to_common > 0 else 0
        prev_debt = debt_[q - 1] if q else debt_[q]
        long_iss = _k((debt_[q] - prev_debt) * 0.9)
        short_iss = _k((debt_[q] - prev_debt) * 0.1)
        other_fin = change - operating_cf - investing - fx - dividends - long_iss - short_iss
        financing = dividends + long_iss + short_iss + other_fin
        cf["net_income"] = net
        cf["depreciation_depletion_and_amortization"] = da
        cf["change_in_other_operating_assets_and_liabilities_net"] = working
        cf["other_operating_activities"] = other_op_cf
        cf["net_cash_from_operating_activities"] = operating_cf
        cf["cash_from_operating_activities_continuing_operations"] = operating_cf
        cf["purchase_of_property_plant_and_equipment"] = capex
        if sale_ppe:
            cf["sale_of_property_plant_and_equipment"] = sale_ppe
        cf["other_investing_activities"] = other_inv
        cf["net_cash_from_investing_activities"] = investing
        cf["net_cash_from_investing_activities_continuing_operations"] = investing
        if dividends:
            cf["dividends"] = dividends
        cf["long_term_debt_issuances_repayments"] = long_iss
        cf["short_term_debt_issuances_repayments"] = short_iss
        cf["other_financing_activities"] = other_fin
        cf["net_cash_from_financing_activities"] = financing
        cf["net_cash_from_financing_activities_continuing_operations"] = financing
        if c.index % 5 == 0:
            cf["effect_of_currency_exchange_rate"] = fx
        cf["change_in_cash_and_equivalents"] = change
        cf["net_cash_flow_continuing"] = change - fx
        return cf


    def _aggregate(self, ticker, last_q, datasets=STATEMENTS):
        """Four quarters ending at ``last_q`` summed (flows) or taken at the end (balances)."""
        return {ds: self.aggregates(ticker, ds)[last_q] for ds in datasets}

    def _aggregates(self, ticker, dataset):
        """Annual/TTM amounts of ``dataset`` ending at each quarter ``q >= 3`` (None before)."""
        series = self.series(ticker, dataset)
        return (None, None, None) + tuple(aggregate(dataset, series[q - 3: q + 1], self.restatement(ticker, q))
                                          for q in range(3, len(series)))

    def restatement(self, ticker, last_q):
        """Per quarter ``last_q - 3 .. last_q``: its shares on the split basis of quarter ``last_q``'s
        filing date per share of its own filing date's basis (1.0 unless a split falls between)."""
        c, periods = self.company(ticker), self.periods(ticker)
        if not c.splits:
            return NO_RESTATEMENT
        basis = c.split_multiplier(periods[last_q].filing_date)
        return tuple(basis / c.split_multiplier(periods[q].filing_date) for q in range(last_q - 3, last_q + 1))

    def statements(self, ticker):
        """Every statement row of a ticker: quarterly, annual and trailing-twelve-month."""
        periods = self.periods(ticker)
        rows = []
        for p in periods:
            rows.append(Statement(ticker, "quarterly", p, p.start, self.quarter(ticker, p.q)))
            if p.q >= 3:
                first = periods[p.q - 3]
                agg = self._aggregate(ticker, p.q)
                if p.fiscal_quarter == 4 and first.fiscal_quarter == 1:
                    rows.append(Statement(ticker, "annual", p, first.start, agg))
                rows.append(Statement(ticker, "ttm", p, first.start, agg))
        return rows

    def statement(self, ticker, timeframe, q, datasets=STATEMENTS):
        """One statement row, computing only the amounts of ``datasets``."""
        p = self.periods(ticker)[q]
        if timeframe == "quarterly":
            return Statement(ticker, timeframe, p, p.start, self.quarter(ticker, q, datasets))
        return Statement(ticker, timeframe, p, self.periods(ticker)[q - 3].start,
                         self._aggregate(ticker, q, datasets))

    def statement_refs(self, ticker):
        """``(timeframe, period)`` of every statement row, without computing any amounts."""
        periods = self.periods(ticker)
        out = []
        for p in periods:
            out.append(("quarterly", p))
            if p.q >= 3:
                if p.fiscal_quarter == 4 and periods[p.q - 3].fiscal_quarter == 1:
                    out.append(("annual", p))
                out.append(("ttm", p))
        return out

    def repeated(self, ticker, *parts):
        """Whether the record of ``ticker`` identified by ``parts`` is one of the ~1% served twice."""
        return _mix(self.company(ticker).hash ^ zlib.crc32(repr(parts).encode())) % 100 == 0

    # --- prices ---------------------------------------------------------------------------

    def price_window(self, ticker):
        """First and last day with a bar."""
        c = self.company(ticker)
        return next_trading_day(max(c.list_date, PRICE_START)), _last_bar_day(c, self.as_of)

    def _make_knots(self, ticker):
        """Month-start log prices on the reference day's split basis, anchored so the knot after
        the reference day's month is today's price, up to the month after the horizon's; a
        walk's price is lifted by ``PRICE_FLOOR`` so no listed common stock trades at fractions
        of a cent."""
        c = self.company(ticker)
        first = self.price_window(ticker)[0]
        months = max(_months_between(first, _last_bar_day(c, self.horizon)) + 2, 2)
        anchor = max(_months_between(first, _last_bar_day(c, REFERENCE_DAY)) + 1, 0)
        rng = random.Random(c.hash ^ 0xBEEF)
        gauss = _fast_gauss(rng)
        drift = gauss(0.006, 0.01)
        vol = 0.03 + c.volatility / 2
        walk, x = array("d", [0.0]), 0.0
        for _ in range(months - 1):
            x += drift + gauss(0, vol)
            walk.append(x)
        shift = math.log(max(c.price_today - PRICE_FLOOR, PRICE_FLOOR)) - walk[anchor]
        return first.year, first.month, array("d", (math.log(math.exp(w + shift) + PRICE_FLOOR) for w in walk))

    # Bars are random-access in (ticker, trading day): the trend is the interpolated monthly knots,
    # the day's shape (close noise, open/high/low/vwap ratios to the close, volume and trade-size
    # factors) is one of _SHAPES precomputed tuples picked by a per-ticker affine index of the
    # day. That makes a whole series and a whole cross-section equally cheap, and both paths use
    # the very same float expressions, so per-ticker and grouped bars agree to the last digit.

    def _bar_consts(self, ticker):
        """``(shape offset, volume base, knots, knot offset, first j, last j, company)`` of a
        ticker; ``company`` only when it has splits (None: bars need no split adjustment)."""
        consts = self._bar_cache.get(ticker)
        if consts is None:
            c = self.company(ticker)
            cal = self.calendar
            y0, m0, knots = self._knots(ticker)
            first, last = self.price_window(ticker)
            consts = (_mix(c.hash ^ 0xBA5) & _SHAPE_MASK, c.shares_today * 0.004, knots,
                      (y0 - PRICE_START.year) * 12 + m0 - 1, cal.index_on_or_after(first),
                      cal.index_on_or_before(last), c if c.splits else None)
            self._bar_cache[ticker] = consts
        return consts

    def bar(self, ticker, day, adjusted=True, reference_basis=False):
        """The daily bar of ``day`` (assumed a trading day inside the price window): split-adjusted
        to ``as_of`` (or to the reference day, with ``reference_basis``), or as traded."""
        cal, shapes = self.calendar, self._shapes()
        j = cal.index[day.toordinal()]
        s, vb, K, off, _, _, split_company = self._bar_consts(ticker)
        cn, orr, hr, lr, vwr, vm, tr = shapes[s + j]
        k = cal.month[j] - off
        k0 = K[k]
        c = math.exp(k0 + (K[k + 1] - k0) * cal.frac[j]) * cn
        vol = vb * vm
        n = int(vol * tr) or 1
        m = self._bar_multiplier(split_company, day, adjusted and not reference_basis, reference_basis)
        if m == 1.0:
            return Bar(day, round(c * orr, 4), round(c * hr, 4), round(c * lr, 4), round(c, 4),
                       float(int(vol)), round(c * vwr, 4), n)
        return Bar(day, round(c * orr / m, 4), round(c * hr / m, 4), round(c * lr / m, 4), round(c / m, 4),
                   float(int(vol * m)), round(c * vwr / m, 4), n)

    def _bar_multiplier(self, split_company, day, adjusted, reference_basis=False):
        """Shares on the basis of the bar's prices per share of the reference day's basis: of
        ``as_of`` (adjusted), of ``day`` (as traded) or 1.0 (reference basis, or no splits)."""
        if split_company is None or reference_basis:
            return 1.0
        return split_company.split_multiplier(self.as_of if adjusted else day)

    def bars(self, ticker, start, end, adjusted=True):
        first, last = self.price_window(ticker)
        return [self.bar(ticker, d, adjusted) for d in trading_days(max(start, first), min(end, last))]

    def bar_window(self, ticker, start, end):
        """``(j0, j1)``: the calendar indices of the ticker's bars within [start, end] (j1 exclusive)."""
        cal = self.calendar
        _, _, _, _, jf, jl, _ = self._bar_consts(ticker)
        return max(jf, cal.index_on_or_after(start)), min(jl, cal.index_on_or_before(end)) + 1

    def render_bars(self, ticker, j0, j1, adjusted=True, reverse=False):
        """JSON texts of the bars of calendar indices ``j0 <= j < j1`` (the aggs endpoint's records).

        Numbers are printed with ``%.4f``, i.e. the same values ``bar()`` rounds to."""
        if j0 >= j1:
            return []
        cal, shapes = self.calendar, self._shapes()
        s, vb, K, off, _, _, split_company = self._bar_consts(ticker)
        exp = math.exp
        trend = [exp(K[gm - off] + (K[gm - off + 1] - K[gm - off]) * f)
                 for gm, f in zip(cal.month[j0:j1], cal.frac[j0:j1])]
        rows = zip(shapes[s + j0: s + j1], trend, cal.midnight_text[j0:j1])
        if split_company is None or adjusted and self._bar_multiplier(split_company, None, True) == 1.0:
            out = [_BAR_FMT % (vol, c * vwr, c * orr, c, c * hr, c * lr, stamp, int(vol * tr) or 1)
                   for (cn, orr, hr, lr, vwr, vm, tr), t, stamp in rows for c, vol in ((t * cn, vb * vm),)]
        else:
            mult = [self._bar_multiplier(split_company, d, adjusted) for d in cal.days[j0:j1]]
            out = [_BAR_FMT % (vol * m, c * vwr / m, c * orr / m, c / m, c * hr / m, c * lr / m, stamp,
                                   int(vol * tr) or 1)
                   for ((cn, orr, hr, lr, vwr, vm, tr), t, stamp), m in zip(rows, mult)
                   for c, vol in ((t * cn, vb * vm),)]
        if reverse:
            out.reverse()
        return out

    def render_grouped(self, day, adjusted=True):
        """JSON texts of every ticker's bar of ``day`` (the grouped-daily endpoint's records)."""
        cal, shapes = self.calendar, self._shapes()
        j = cal.index.get(day.toordinal())
        if j is None:
            return []
        f = cal.frac[j]
        stamp = cal.close_text[j]
        exp = math.exp
        cols = self._grouped_columns(cal.month[j])
        if adjusted and self.as_of == REFERENCE_DAY:
            return [prefix + _BAR_BODY % (vol, c * vwr, c * orr, c, c * hr, c * lr, stamp, int(vol * tr) or 1)
                    for prefix, s, vb, k0, dk, jf, jl, _ in cols if jf <= j <= jl
                    for cn, orr, hr, lr, vwr, vm, tr in (shapes[s + j],)
                    for c, vol in ((exp(k0 + dk * f) * cn, vb * vm),)]
        out = []
        for prefix, s, vb, k0, dk, jf, jl, split_company in cols:
            if jf <= j <= jl:
                cn, orr, hr, lr, vwr, vm, tr = shapes[s + j]
                c, vol = exp(k0 + dk * f) * cn, vb * vm
                m = self._bar_multiplier(split_company, day, adjusted)
                out.append(prefix + _BAR_BODY % (vol * m, c * vwr / m, c * orr / m, c / m, c * hr / m,
                                                     c * lr / m, stamp, int(vol * tr) or 1))
        return out

    def _grouped_columns(self, gm):
        """Per-ticker constants of global month ``gm`` for every ticker with bars in that month."""
        cols = self._month_columns.get(gm)
        if cols is not None:
            return cols
        cal = self.calendar
        lo, hi = cal.month_span(gm)
        cols = []
        for t in self.tickers:
            s, vb, K, off, jf, jl, split_company = self._bar_consts(t)
            if jl < lo or jf > hi:
                continue
            k = gm - off
            k0 = K[k]
            cols.append(('{"T":"%s",' % t, s, vb, k0, K[k + 1] - k0, jf, jl, split_company))
            if self.has_warrants(t):
                cols.append(('{"T":"%s",' % warrant_of(t), s ^ 1, vb * 0.1, k0 + WARRANT_LOG_PRICE, K[k + 1] - k0,
                             jf, jl, split_company))
        with self._month_lock:
            self._month_columns[gm] = cols
            while len(self._month_columns) > MONTHS_CACHED:
                self._month_columns.pop(next(iter(self._month_columns)))
        return cols

    def has_warrants(self, ticker):
        """Whether the company (one active in 40) also has listed warrants (``warrant_of``):
        instruments the grouped daily bars hold and the common-stock universe does not."""
        index = self.index[ticker]
        return index < self.size and index % 40 == 7

    def has_bar(self, ticker, day):
        if not is_trading_day(day):
            return False
        first, last = self.price_window(ticker)
        return first <= day <= last

    # --- corporate actions ----------------------------------------------------------------

    def _splits(self, ticker):
        """Splits executed by ``as_of``, each with the factor of every split from it on."""
        c = self.company(ticker)
        out, factor = [], 1.0
        for when, frm, to in reversed([split for split in c.splits if split[0] <= self.as_of]):
            factor *= frm / to
            ident = "E" + sha256(f"split|{c.key}|{when}|{frm}|{to}".encode()).hexdigest()
            out.append(Split(ticker, when, frm, to, ident, round(factor, 6)))
        return tuple(reversed(out))

    def _dividends(self, ticker):
        """Quarterly cash dividends that went ex by ``as_of`` (and before delisting), as declared
        (not restated for later splits); the split-adjusted amount and the historical
        adjustment factor are those of ``as_of``."""
        c = self.company(ticker)
        if not c.pays_dividends:
            return ()
        first, last = self.price_window(ticker)
        paid = [dividend for dividend in self._dividend_history(c, first) if dividend[0] <= last]
        to_as_of = c.split_multiplier(self.as_of)
        out, factor = [], 1.0
        for ex, cash, adj_cash, kind, declared, record, pay in reversed(paid):
            prev = ex - timedelta(days=1)
            while not is_trading_day(prev):
                prev -= timedelta(days=1)
            if prev >= first:
                factor *= max(0.5, 1 - adj_cash / self.bar(ticker, prev, reference_basis=True).c)
            ident = "E" + sha256(f"div|{c.key}|{ex}|{cash}".encode()).hexdigest()
            out.append(Dividend(ticker, ident, cash, round(adj_cash / to_as_of, 6), declared, ex, record, pay,
                                0 if kind == "special" else 4, kind, round(factor, 6)))
        return tuple(reversed(out))

    def _dividend_history(self, c, first):
        """Every dividend to the horizon: ``(ex, cash, cash on the reference day's basis, kind,
        declared, record, pay)``, from a day of the company's (after ``history_start`` by up to a
        quarter, so that companies pay on different days). Those up to the reference day come from one random stream
        (their dates drawn newest first), those after it from another, drawn forward."""
        rng = random.Random(c.hash ^ 0xD1D)
        history_start = self.history_start + timedelta(days=c.hash % 91) if self.history_start else date.min
        start = max(first + timedelta(days=rng.randrange(60, 2000)), date(2003, 3, 1), history_start)
        amount = c.price_today * rng.uniform(0.002, 0.01) * math.exp(-0.015 * ((REFERENCE_DAY - start).days / 91))
        history = []
        ex = next_trading_day(start)
        while ex <= _last_bar_day(c, REFERENCE_DAY):
            amount, paid = _dividend_amount(c, rng, ex, amount)
            history.append(paid)
            ex = next_trading_day(ex + timedelta(days=91))
        history = [paid + _dividend_dates(rng, paid[0]) for paid in reversed(history)][::-1]
        rng = random.Random(c.hash ^ 0xD1D2)
        while ex <= _last_bar_day(c, self.horizon):
            amount, paid = _dividend_amount(c, rng, ex, amount)
            history.append(paid + _dividend_dates(rng, ex))
            ex = next_trading_day(ex + timedelta(days=91))
        return history

    def events(self, ticker):
        """Ticker-change events by ``as_of``, newest first."""
        c = self.company(ticker)
        if c.former_ticker and c.change_date <= self.as_of:
            return [(c.change_date, ticker), (c.list_date, c.former_ticker)]
        return [(c.list_date, ticker)]

    # --- point-in-time figures ------------------------------------------------------------

    def shares_outstanding(self, ticker, day):
        c = self.company(ticker)
        return int(c.shares_today * c.split_multiplier(day))

    def close_on_or_before(self, ticker, day, adjusted=False):
        first, last = self.price_window(ticker)
        day = min(day, last)
        while day >= first and not is_trading_day(day):
            day -= timedelta(days=1)
        if day < first:
            return None
        return self.bar(ticker, day, adjusted).c


NO_RESTATEMENT = (1.0, 1.0, 1.0, 1.0)


def _dividend_amount(company, rng, ex, amount):
    """The dividend going ex on ``ex``: ``(amount, (ex, cash, cash on the reference day's basis,
    kind))``, ``amount`` (the recurring amount on the reference day's basis) raised now and then."""
    if rng.random() < 0.08:
        amount *= 1.0 + rng.uniform(0.02, 0.1)
    m = company.split_multiplier(ex)
    cash = max(0.01, round(amount / m, 2))
    kind = "recurring"
    if rng.random() < 0.015:
        kind, cash = "special", max(0.01, round(cash * rng.uniform(2, 8), 2))
    return amount, (ex, cash, cash * m, kind)


def _dividend_dates(rng, ex):
    """``(declared, record, pay)`` of a dividend going ex on ``ex``."""
    declared = ex - timedelta(days=rng.randrange(14, 40))
    record = next_trading_day(ex + timedelta(days=1 if ex >= date(2024, 5, 28) else 2))
    return declared, record, record + timedelta(days=rng.randrange(5, 25))


def _last_bar_day(company, day):
    """The last day the company trades by ``day`` (the day before its delisting at the latest)."""
    if company.delisted_on is not None and company.delisted_on <= day:
        return company.delisted_on - timedelta(days=1)
    return day


def _months_between(first, last):
    return (last.year - first.year) * 12 + last.month - first.month


WARRANT_LOG_PRICE = math.log(0.15)
"""A warrant trades at about 15 % of its stock."""


def warrant_of(ticker):
    return ticker + ".WS"


def aggregate(dataset, four, restatement=NO_RESTATEMENT):
    """The annual / trailing-twelve-month amounts of ``dataset`` from its four quarters' amounts;
    weighted shares are the mean of the quarters' restated by ``restatement`` (see
    ``SyntheticMarket.restatement``) to the last quarter's split basis."""
    if dataset == "balance_sheets":
        return four[3]
    q0, q1, q2, q3 = four
    out = {col: v + q0[col] + q1[col] + q2[col]
           for col, v in q3.items() if col in q0 and col in q1 and col in q2}
    if dataset == "income_statements":
        basic = int(sum(q["basic_shares_outstanding"] * f for q, f in zip(four, restatement)) / 4000) * 1000
        diluted = int(sum(q["diluted_shares_outstanding"] * f for q, f in zip(four, restatement)) / 4000) * 1000
        to_common = out["net_income_loss_attributable_common_shareholders"]
        diluted = basic if to_common < 0 else max(basic, diluted)
        out["basic_shares_outstanding"], out["diluted_shares_outstanding"] = basic, diluted
        out["basic_earnings_per_share"] = round(to_common / basic, 2)
        out["diluted_earnings_per_share"] = round(to_common / diluted, 2)
    return out


def vx_blocks():
    """``(vX block, dataset, concept, column)`` in declaration order."""
    return [(block, VX_STATEMENT_TO_DATASET[block], concept, col)
            for block, concepts in VX_CONCEPTS.items() for concept, col in concepts.items()]


def utc_stamp(day):
    return datetime(day.year, day.month, day.day).strftime("%Y-%m-%dT%H:%M:%SZ")


assert set(STATEMENTS) == set(V1_LINE_ITEMS)
