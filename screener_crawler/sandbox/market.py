"""A deterministic synthetic US stock market, generated lazily per ticker.

Everything about a ticker is a pure function of ``seed`` and the ticker symbol (plus the
universe it sits in), so any subset can be served without generating the rest. Amounts are
whole dollars (multiples of 1,000); EPS is rounded to cents; share counts and EPS are
as-reported, i.e. not restated for splits that happen after the period.

Statement values are kept in a neutral form: per period, one ``{column: number}`` dict per
dataset of ``fields.STATEMENTS`` whose columns are v1 line items or vX-only concepts (see
``fields.statement_line_items``). ``responses`` renders them in either API generation.
"""

import math
import random
import zlib
from array import array
from collections import namedtuple
from datetime import date, datetime, timedelta
from functools import lru_cache
from hashlib import sha256

from ..polygon.fields import STATEMENTS, V1_LINE_ITEMS, VX_CONCEPTS, VX_STATEMENT_TO_DATASET
from .trading_calendar import (
    is_trading_day, month_end, next_trading_day, trading_days,
)

DEFAULT_SIZE = 10070
DEFAULT_DELISTED = 1000
DEFAULT_SEED = 42
DEFAULT_AS_OF = date(2025, 11, 21)
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


class Company:
    """Static profile of one listed company; derived from seed and ticker only."""

    __slots__ = (
        "ticker", "index", "name", "cik", "has_cik", "composite_figi", "share_class_figi", "exchange",
        "sector", "fy_end", "saturday", "list_date", "delisted", "has_financials", "vx_q4", "v1_q4",
        "pays_dividends", "splits", "former_ticker", "change_date", "hash", "revenue0", "growth",
        "volatility", "margin_shift", "price_today", "shares_today", "has_nci", "has_preferred",
        "has_inventory", "homepage", "employees", "peers",
    )

    @property
    def bank(self):
        return SECTORS[self.sector][5]

    @property
    def active(self):
        return self.delisted is None

    def split_multiplier(self, day):
        """Shares in issue on ``day`` per share today's basis is counted in (splits after ``day``)."""
        m = 1.0
        for when, frm, to in self.splits:
            if when > day:
                m *= frm / to
        return m


class SyntheticMarket:
    """The synthetic universe. ``size`` active common stocks plus ``delisted`` delisted ones."""

    def __init__(self, size=DEFAULT_SIZE, delisted=DEFAULT_DELISTED, seed=DEFAULT_SEED, as_of=DEFAULT_AS_OF):
        self.size, self.n_delisted, self.seed = size, delisted, seed
        self.as_of = as_of
        self.tickers = self._make_tickers()
        self.index = {t: i for i, t in enumerate(self.tickers)}
        self.active_tickers = self.tickers[:size]
        self.company = lru_cache(maxsize=None)(self._company)
        self.periods = lru_cache(maxsize=None)(self._periods)
        self._parts = {
            "income_statements": lru_cache(maxsize=16384)(self._income),
            "balance_sheets": lru_cache(maxsize=16384)(self._balance),
            "cash_flow": lru_cache(maxsize=16384)(self._cash_flow),
        }
        self._drivers = lru_cache(maxsize=None)(self._make_drivers)
        self._knots = lru_cache(maxsize=None)(self._make_knots)
        self.dividends = lru_cache(maxsize=None)(self._dividends)
        self.splits = lru_cache(maxsize=None)(self._splits)
        self._sector_members = None

    # --- universe -------------------------------------------------------------------------

    def _make_tickers(self):
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
        return active + delisted

    def is_active(self, ticker):
        return self.index[ticker] < self.size

    def _company(self, ticker):
        if ticker not in self.index:
            return None
        idx = self.index[ticker]
        h = _key(self.seed, ticker)
        rng = random.Random(h)
        known = KNOWN_COMPANIES.get(ticker, {})
        c = Company()
        c.ticker, c.index, c.hash = ticker, idx, h
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
        c.list_date = next_trading_day(c.list_date)
        c.delisted = None
        if idx >= self.size:
            span = (self.as_of - timedelta(days=30) - max(c.list_date, date(2008, 1, 1))).days
            if span < 400:
                c.list_date = date(2004, 1, 5) + timedelta(days=rng.randrange(365 * 3))
                span = (self.as_of - timedelta(days=30) - date(2008, 1, 1)).days
            c.delisted = next_trading_day(
                max(c.list_date, date(2008, 1, 1)) + timedelta(days=365 + rng.randrange(max(span - 365, 1))))
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
        c.splits = self._split_plan(c, rng, known)
        c.former_ticker, c.change_date = None, None
        if rng.random() < 0.02:
            c.former_ticker = self._former_ticker(rng)
            lo = max(c.list_date, date(2005, 1, 1))
            hi = c.delisted or self.as_of
            if (hi - lo).days > 60:
                c.change_date = next_trading_day(lo + timedelta(days=rng.randrange((hi - lo).days - 30)))
            else:
                c.former_ticker = None
        c.homepage = known.get("homepage") or "https://www." + c.name.split()[0].lower() + \
            c.name.split()[1].lower()[:6] + ".com"
        c.employees = known.get("employees") or max(5, int(c.revenue0 * 4 / 300))
        return c

    def _sector_of(self, ticker):
        return _key(self.seed, ticker, "sector") % len(SECTORS)

    def _former_ticker(self, rng):
        while True:
            t = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.choice((3, 4))))
            if t not in self.index:
                return t

    def _split_plan(self, c, rng, known):
        if "splits" in known:
            return tuple(known["splits"])
        if rng.random() >= 0.03:
            return ()
        lo = max(c.list_date, PRICE_START) + timedelta(days=200)
        hi = (c.delisted or self.as_of) - timedelta(days=30)
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
        """About ten active peers, preferring the same industry."""
        c = self.company(ticker)
        if self._sector_members is None:
            members = {}
            for t in self.active_tickers:
                members.setdefault(self._sector_of(t) if t not in KNOWN_COMPANIES
                                   else KNOWN_COMPANIES[t]["sector"], []).append(t)
            self._sector_members = members
        pool = [t for t in self._sector_members.get(c.sector, ()) if t != ticker]
        rng = random.Random(_key(self.seed, ticker, "related"))
        n = min(len(pool), rng.choice((8, 9, 10, 10, 10, 10, 11, 12)))
        return rng.sample(pool, n)

    # --- fundamentals ---------------------------------------------------------------------

    def _periods(self, ticker):
        """The company's fiscal quarters whose report is filed by ``as_of`` (and before delisting)."""
        c = self.company(ticker)
        if c is None or not c.has_financials:
            return ()
        first = max(HISTORY_START, c.list_date + timedelta(days=60))
        stop = min(self.as_of, c.delisted or self.as_of)
        out, prev_end = [], None
        y, m = first.year - 1, c.fy_end
        while True:
            end = month_end(y, m, c.saturday)
            if end >= first or prev_end is not None:
                fq = ((m - c.fy_end - 1) % 12) // 3 + 1
                fy = y if m <= c.fy_end else y + 1
                lag = (55 + int(_unit(c.hash, end.toordinal()) * 21)) if fq == 4 else \
                    (25 + int(_unit(c.hash, end.toordinal()) * 21))
                filed = end + timedelta(days=lag)
                if filed.weekday() >= 5:
                    filed += timedelta(days=7 - filed.weekday())
                if filed > stop:
                    break
                if end >= first:
                    seq = _mix(c.hash ^ end.toordinal()) % 90000 + 1
                    accession = f"{c.cik}-{filed.year % 100:02d}-{seq:06d}"
                    hh, mm, ss = 16 + (seq % 2), seq % 60, (seq // 60) % 60
                    accepted = f"{filed:%Y%m%d}{hh:02d}{mm:02d}{ss:02d}"
                    start = (prev_end + timedelta(days=1)) if prev_end else \
                        month_end(*((y, m - 3) if m > 3 else (y - 1, m + 9)), c.saturday) + timedelta(days=1)
                    out.append(Period(len(out), start, end, filed, fy, fq, accession, accepted))
                prev_end = end
            m += 3
            if m > 12:
                y, m = y + 1, m - 12
        return tuple(out)

    def _make_drivers(self, ticker):
        """Per-quarter levels (thousands of dollars unless noted): revenue, cash, debt, shares."""
        c, periods = self.company(ticker), self.periods(ticker)
        n = len(periods)
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
        for p in periods:
            level += c.growth + gauss(0, c.volatility)
            rev.append(math.exp(level + season[p.fiscal_quarter - 1]))
            cash_level = max(cash_level * math.exp(gauss(c.growth, 0.15)), rev[-1] * 0.05)
            cash.append(cash_level)
            debt_level = max(0.0, debt_level * math.exp(gauss(c.growth, 0.08)))
            debt.append(debt_level)
            eq = min(0.85, max(-0.4, eq + gauss(0, 0.02)))
            eq_ratio.append(eq)
            oci += rev[-1] * gauss(0, 0.01)
            aoci.append(oci)
            sh *= math.exp(gauss(0.002, 0.004))
            shares.append(sh)
        if n:
            scale = c.shares_today / shares[-1]
            for i in range(n):
                shares[i] *= scale
        return rev, cash, debt, eq_ratio, aoci, shares

    def quarter(self, ticker, q, datasets=STATEMENTS):
        """Amounts of quarter ``q``: ``{dataset: {column: number}}``."""
        return {ds: self._parts[ds](ticker, q) for ds in datasets}

    def _income(self, ticker, q):
        c = self.company(ticker)
        p = self.periods(ticker)[q]
        rev_, cash_, debt_, eq_, aoci_, shares_ = self._drivers(ticker)
        rng = random.Random(c.hash ^ (q * 0x9E3779B1 + 7))
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
        mult = c.split_multiplier(p.end)
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

    def _balance(self, ticker, q):
        c = self.company(ticker)
        rev_, cash_, debt_, eq_, aoci_, shares_ = self._drivers(ticker)
        rng = random.Random(c.hash ^ (q * 0x9E3779B1 + 11))
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

    def _cash_flow(self, ticker, q):
        c = self.company(ticker)
        rev_, cash_, debt_, eq_, aoci_, shares_ = self._drivers(ticker)
        rng = random.Random(c.hash ^ (q * 0x9E3779B1 + 13))
        g = _fast_gauss(rng)
        _, _, gm, rd_r, sga_r, bank = SECTORS[c.sector]
        R = rev_[q]
        inc = self._parts["income_statements"](ticker, q)
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
        out = {}
        for ds in datasets:
            part = self._parts[ds]
            if ds == "balance_sheets":
                out[ds] = part(ticker, last_q)
                continue
            q0, q1, q2, q3 = (part(ticker, q) for q in range(last_q - 3, last_q + 1))
            out[ds] = {col: v + q0[col] + q1[col] + q2[col]
                       for col, v in q3.items() if col in q0 and col in q1 and col in q2}
        inc = out.get("income_statements")
        if inc is not None:
            quarters = [self._parts["income_statements"](ticker, q) for q in range(last_q - 3, last_q + 1)]
            basic = int(sum(v["basic_shares_outstanding"] for v in quarters) / 4000) * 1000
            diluted = int(sum(v["diluted_shares_outstanding"] for v in quarters) / 4000) * 1000
            to_common = inc["net_income_loss_attributable_common_shareholders"]
            diluted = basic if to_common < 0 else max(basic, diluted)
            inc["basic_shares_outstanding"], inc["diluted_shares_outstanding"] = basic, diluted
            inc["basic_earnings_per_share"] = round(to_common / basic, 2)
            inc["diluted_earnings_per_share"] = round(to_common / diluted, 2)
        return out

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
        first = next_trading_day(max(c.list_date, PRICE_START))
        last = (c.delisted - timedelta(days=1)) if c.delisted else self.as_of
        return first, last

    def _make_knots(self, ticker):
        """Month-start log prices (split-adjusted), anchored so the last one is today's price."""
        c = self.company(ticker)
        first, last = self.price_window(ticker)
        months = (last.year - first.year) * 12 + last.month - first.month + 2
        rng = random.Random(c.hash ^ 0xBEEF)
        gauss = _fast_gauss(rng)
        drift = gauss(0.006, 0.01)
        vol = 0.03 + c.volatility / 2
        walk, x = array("d", [0.0]), 0.0
        for _ in range(months - 1):
            x += drift + gauss(0, vol)
            walk.append(x)
        shift = math.log(c.price_today) - walk[-1]
        return first.year, first.month, array("d", (w + shift for w in walk))

    def bar(self, ticker, day, adjusted=True):
        """The daily bar of ``day`` (assumed a trading day inside the price window)."""
        c = self.company(ticker)
        y0, m0, knots = self._knots(ticker)
        i = (day.year - y0) * 12 + day.month - m0
        frac = (day.day - 1) / 31.0
        o = day.toordinal()
        h = c.hash
        close = math.exp(knots[i] + (knots[i + 1] - knots[i]) * frac + 0.012 * _gauss(h, o))
        open_ = close * math.exp(0.008 * _gauss(h ^ 1, o))
        high = max(open_, close) * (1 + 0.012 * _unit(h ^ 2, o))
        low = min(open_, close) * (1 - 0.012 * _unit(h ^ 3, o))
        volume = c.shares_today * 0.004 * math.exp(0.5 * _gauss(h ^ 4, o))
        vw = (high + low + close) / 3
        trades = max(1, int(volume / (80 + 200 * _unit(h ^ 5, o))))
        if adjusted:
            return Bar(day, round(open_, 4), round(high, 4), round(low, 4), round(close, 4),
                       float(int(volume)), round(vw, 4), trades)
        m = c.split_multiplier(day)
        return Bar(day, round(open_ / m, 2), round(high / m, 2), round(low / m, 2), round(close / m, 2),
                   float(int(volume * m)), round(vw / m, 4), trades)

    def bars(self, ticker, start, end, adjusted=True):
        first, last = self.price_window(ticker)
        return [self.bar(ticker, d, adjusted) for d in trading_days(max(start, first), min(end, last))]

    def has_bar(self, ticker, day):
        if not is_trading_day(day):
            return False
        first, last = self.price_window(ticker)
        return first <= day <= last

    # --- corporate actions ----------------------------------------------------------------

    def _splits(self, ticker):
        c = self.company(ticker)
        out, factor = [], 1.0
        for when, frm, to in reversed(c.splits):
            factor *= frm / to
            ident = "E" + sha256(f"split|{ticker}|{when}|{frm}|{to}".encode()).hexdigest()
            out.append(Split(ticker, when, frm, to, ident, round(factor, 6)))
        return tuple(reversed(out))

    def _dividends(self, ticker):
        """Quarterly cash dividends, as declared (not restated for later splits)."""
        c = self.company(ticker)
        if not c.pays_dividends:
            return ()
        rng = random.Random(c.hash ^ 0xD1D)
        first, last = self.price_window(ticker)
        start = max(first + timedelta(days=rng.randrange(60, 2000)), date(2003, 3, 1))
        amount = c.price_today * rng.uniform(0.002, 0.01) * math.exp(-0.015 * ((self.as_of - start).days / 91))
        raw = []
        ex = next_trading_day(start)
        while ex <= min(last, self.as_of):
            if rng.random() < 0.08:
                amount *= 1.0 + rng.uniform(0.02, 0.1)
            m = c.split_multiplier(ex)
            cash = max(0.01, round(amount / m, 2))
            kind = "recurring"
            if rng.random() < 0.015:
                kind, cash = "special", max(0.01, round(cash * rng.uniform(2, 8), 2))
            raw.append((ex, cash, cash * m, kind))
            ex = next_trading_day(ex + timedelta(days=91))
        out, factor = [], 1.0
        for ex, cash, adj_cash, kind in reversed(raw):
            prev = ex - timedelta(days=1)
            while not is_trading_day(prev):
                prev -= timedelta(days=1)
            if prev >= first:
                factor *= max(0.5, 1 - adj_cash / self.bar(ticker, prev).c)
            declared = ex - timedelta(days=rng.randrange(14, 40))
            record = next_trading_day(ex + timedelta(days=1 if ex >= date(2024, 5, 28) else 2))
            pay = record + timedelta(days=rng.randrange(5, 25))
            ident = "E" + sha256(f"div|{ticker}|{ex}|{cash}".encode()).hexdigest()
            out.append(Dividend(ticker, ident, cash, round(adj_cash, 6), declared, ex, record, pay,
                                0 if kind == "special" else 4, kind, round(factor, 6)))
        return tuple(reversed(out))

    def events(self, ticker):
        """Ticker-change events, newest first."""
        c = self.company(ticker)
        if c.former_ticker:
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


def vx_blocks():
    """``(vX block, dataset, concept, column)`` in declaration order."""
    return [(block, VX_STATEMENT_TO_DATASET[block], concept, col)
            for block, concepts in VX_CONCEPTS.items() for concept, col in concepts.items()]


def utc_stamp(day):
    return datetime(day.year, day.month, day.day).strftime("%Y-%m-%dT%H:%M:%SZ")


assert set(STATEMENTS) == set(V1_LINE_ITEMS)
