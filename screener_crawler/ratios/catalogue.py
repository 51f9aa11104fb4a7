"""The ratio catalogue, declared once: input aliases over the statement columns, then every ratio
with its category, formula, unit, averaging and whether it needs a price.

Formulas are written twice on purpose, as text for people (``formula``, rendered into
``docs/RATIOS.md``) and as one small vectorised function each (``compute``); the tests check
every function against hand-computed values, and that every name in a text formula is declared.

How to read a formula (the conventions of ``../shared/ratios/CATALOGUE.md`` §2):

- an alias (``REV``, ``TA``...) is the row's own value: a flow over the row's window (one
  quarter, a fiscal year, or the trailing twelve months), a balance at ``period_end``;
- ``avg(X)`` is the 2-point average of the opening and closing balance: the previous quarter end
  for quarterly rows, the balance a year earlier for annual and TTM rows; null when either is
  missing (no fallback to the closing balance);
- ``yoy(X)``, ``qoq(X)``, ``y3(X)`` are X of the comparable period a year, a quarter, three
  years earlier (same fiscal quarter; the TTM ending then for TTM rows; QoQ is null on annual
  rows), as known on the row's filing date, per-share values and share counts restated to the
  row's split basis;
- share counts and per-share values are as filed, on the split basis of the row's
  ``filing_date`` (a report restates its periods for the splits executed before it is filed);
  where periods meet (TTM, a derived Q4, yoy...) the earlier one's are restated to the later
  one's basis. Ratios in USD per share are then put on the basis of the latest split in
  ``splits``, as split-adjusted prices are, so a ticker's per-share series does not jump at a
  split; ratios of two amounts per share (P/E) and of market values do not depend on it;
- ``ttm(X)`` is X over the twelve months ending at ``period_end`` (the row itself for annual and
  TTM rows);
- ``g(X, Y) = X / Y - 1``, null when Y is missing, zero or negative;
- ``a / b``: null when b is missing or zero; ``a /+ b``: null unless b > 0 (a negative
  denominator would make the ratio meaningless). Results are never ±inf.
- Flow ratios of quarterly rows are per quarter, not annualised; ``D`` is the days of the
  window (the quarter's actual length, 365 for annual and TTM rows).
- A share count that cannot be, zero or negative (reported, or a derived Q4's
  4 x FY - (Q1 + Q2 + Q3)), is no count: every share count of that row is null, and with them
  its per-share values, ``SO``, ``MCAP``, ``EV`` and every ratio built on them (the crawl's stat
  ``financial_ratios/rows_with_share_counts_not_positive`` counts such rows). Multiples never
  divide by a negative amount (``/+`` above): a P/E, EV/EBITDA, EV/EBIT, P/FCF... over a loss
  is null, not negative.
- A row is usable from ``available_date``: the day of the ticker's first daily bar after
  ``filing_date``, or, when no later bar is stored, the NYSE's next trading day after it
  (exchange-calendars' XNYS sessions: holidays and special closures are skipped); its price
  symbols use the close on that day.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# --- kinds of input, which decide how quarters add up ---------------------------------------

FLOW = "flow"
"""An amount over a period: TTM sums four quarters, a missing Q4 is FY minus Q1-Q3."""
STOCK = "stock"
"""A balance at period end: TTM and a derived Q4 take the balance at their end."""
SHARES = "shares"
"""A weighted-average share count: TTM is the mean of four quarters; a derived Q4 is
4 x FY - (Q1 + Q2 + Q3), since the plain difference is meaningless (polygon-io/issues #279)."""
PER_SHARE = "per_share"
"""A per-share amount that does not add up (EPS): recomputed as numerator / share count."""

PROFITABILITY = "profitability"
LIQUIDITY = "liquidity"
SOLVENCY = "solvency"
EFFICIENCY = "efficiency"
CASH_FLOW = "cash_flow"
PER_SHARE_CATEGORY = "per_share"
GROWTH = "growth"
VALUATION = "valuation"
QUALITY = "quality"
CATEGORIES = (PROFITABILITY, LIQUIDITY, SOLVENCY, EFFICIENCY, CASH_FLOW, PER_SHARE_CATEGORY, GROWTH,
              VALUATION, QUALITY)

RATIO = "ratio"
USD = "USD"
DAYS = "days"
USD_PER_SHARE = "USD/share"
SCORE = "score"


@dataclass(frozen=True)
class Alias:
    """A named input: statement columns (``dataset.column``) or earlier aliases, combined."""

    name: str
    kind: str
    definition: str
    sources: tuple
    build: Callable | None = None
    """Combines the sources' series; None takes the first source as it is."""
    absent_is_zero: bool = False
    """Absent on a statement that was filed counts as 0 (items a company simply does not have:
    goodwill, inventories, noncontrolling interest...), when the endpoint the row came from
    (its ``source``) carries that line item at all; otherwise, and on an absent statement, null."""
    per_share_of: tuple | None = None
    """(numerator alias, share-count alias) for PER_SHARE aliases."""


def _first_of(*series):
    result = series[0]
    for other in series[1:]:
        result = result.fillna(other)
    return result


IS, BS, CF = "income_statements", "balance_sheets", "cash_flow"

ALIASES = (
    # income statement
    Alias("REV", FLOW, "revenue", (f"{IS}.revenue",)),
    Alias("COGS", FLOW, "cost_of_revenue", (f"{IS}.cost_of_revenue",)),
    Alias("GP", FLOW, "gross_profit; else REV - COGS", (f"{IS}.gross_profit", "REV", "COGS"),
          lambda gp, rev, cogs: gp.fillna(rev - cogs)),
    Alias("OPEX", FLOW, "total_operating_expenses", (f"{IS}.total_operating_expenses",)),
    Alias("SGA", FLOW, "selling_general_administrative", (f"{IS}.selling_general_administrative",)),
    Alias("RND", FLOW, "research_development (absent: 0)", (f"{IS}.research_development",),
          absent_is_zero=True),
    Alias("DA", FLOW, "depreciation_depletion_amortization (income statement); else the cash-flow "
          "statement's depreciation_depletion_and_amortization",
          (f"{IS}.depreciation_depletion_amortization", f"{CF}.depreciation_depletion_and_amortization"),
          _first_of),
    Alias("OI", FLOW, "operating_income", (f"{IS}.operating_income",)),
    Alias("INT", FLOW, "interest_expense; else interest_and_debt_expense (a positive number)",
          (f"{IS}.interest_expense", f"{IS}.interest_and_debt_expense"), _first_of),
    Alias("EBT", FLOW, "income_before_income_taxes", (f"{IS}.income_before_income_taxes",)),
    Alias("EBIT", FLOW, "OI; else EBT + INT", ("OI", "EBT", "INT"), lambda oi, ebt, i: oi.fillna(ebt + i)),
    Alias("EBITDA", FLOW, "ebitda; else EBIT + DA", (f"{IS}.ebitda", "EBIT", "DA"),
          lambda ebitda, ebit, da: ebitda.fillna(ebit + da)),
    Alias("TAX", FLOW, "income_taxes (negative: a benefit)", (f"{IS}.income_taxes",)),
    Alias("NI", FLOW, "consolidated_net_income_loss", (f"{IS}.consolidated_net_income_loss",)),
    Alias("NCI_NI", FLOW, "noncontrolling_interest (income statement; absent: 0)",
          (f"{IS}.noncontrolling_interest",), absent_is_zero=True),
    Alias("NIP", FLOW, "net_income_loss_attributable_to_parent; else NI - NCI_NI",
          (f"{IS}.net_income_loss_attributable_to_parent", "NI", "NCI_NI"),
          lambda nip, ni, nci: nip.fillna(ni - nci)),
    Alias("PREF_DIV", FLOW, "preferred_stock_dividends_declared (absent: 0)",
          (f"{IS}.preferred_stock_dividends_declared",), absent_is_zero=True),
    Alias("NIC", FLOW, "net_income_loss_attributable_common_shareholders; else NIP - PREF_DIV",
          (f"{IS}.net_income_loss_attributable_common_shareholders", "NIP", "PREF_DIV"),
          lambda nic, nip, pref: nic.fillna(nip - pref)),
    Alias("DISC", FLOW, "discontinued_operations (absent: 0)", (f"{IS}.discontinued_operations",),
          absent_is_zero=True),
    Alias("CI", FLOW, "comprehensive_income_loss", (f"{IS}.comprehensive_income_loss",)),
    Alias("OCI", FLOW, "other_comprehensive_income_loss", (f"{IS}.other_comprehensive_income_loss",)),
    Alias("SHB", SHARES, "basic_shares_outstanding (weighted average over the period)",
          (f"{IS}.basic_shares_outstanding",)),
    Alias("SHD", SHARES, "diluted_shares_outstanding (weighted average over the period); else SHB",
          (f"{IS}.diluted_shares_outstanding", "SHB"), _first_of),
    Alias("EPSB", PER_SHARE, "basic_earnings_per_share as reported; derived rows: NIC / SHB",
          (f"{IS}.basic_earnings_per_share", "NIC", "SHB"), lambda eps, nic, sh: eps.fillna(nic / sh),
          per_share_of=("NIC", "SHB")),
    Alias("EPSD", PER_SHARE, "diluted_earnings_per_share as reported; derived rows: NIC / SHD",
          (f"{IS}.diluted_earnings_per_share", "NIC", "SHD"), lambda eps, nic, sh: eps.fillna(nic / sh),
          per_share_of=("NIC", "SHD")),
    # balance sheet
    Alias("TA", STOCK, "total_assets", (f"{BS}.total_assets",)),
    Alias("CA", STOCK, "total_current_assets", (f"{BS}.total_current_assets",)),
    Alias("NCA", STOCK, "noncurrent_assets; else TA - CA", (f"{BS}.noncurrent_assets", "TA", "CA"),
          lambda nca, ta, ca: nca.fillna(ta - ca)),
    Alias("CASH", STOCK, "cash_and_equivalents", (f"{BS}.cash_and_equivalents",)),
    Alias("STI", STOCK, "short_term_investments (absent: 0)", (f"{BS}.short_term_investments",),
          absent_is_zero=True),
    Alias("AR", STOCK, "receivables", (f"{BS}.receivables",)),
    Alias("INV", STOCK, "inventories (absent: 0)", (f"{BS}.inventories",), absent_is_zero=True),
    Alias("PRE", STOCK, "prepaid_expenses (vX; absent: 0)", (f"{BS}.prepaid_expenses",), absent_is_zero=True),
    Alias("FA", STOCK, "property_plant_equipment_net", (f"{BS}.property_plant_equipment_net",)),
    Alias("GW", STOCK, "goodwill (absent: 0)", (f"{BS}.goodwill",), absent_is_zero=True),
    Alias("INTANG", STOCK, "intangible_assets_net (absent: 0)", (f"{BS}.intangible_assets_net",),
          absent_is_zero=True),
    Alias("TL", STOCK, "total_liabilities", (f"{BS}.total_liabilities",)),
    Alias("CL", STOCK, "total_current_liabilities", (f"{BS}.total_current_liabilities",)),
    Alias("NCL", STOCK, "noncurrent_liabilities; else TL - CL", (f"{BS}.noncurrent_liabilities", "TL", "CL"),
          lambda ncl, tl, cl: ncl.fillna(tl - cl)),
    Alias("AP", STOCK, "accounts_payable", (f"{BS}.accounts_payable",)),
    Alias("LTD", STOCK, "long_term_debt_and_capital_lease_obligations (absent: 0)",
          (f"{BS}.long_term_debt_and_capital_lease_obligations",), absent_is_zero=True),
    Alias("STD", STOCK, "debt_current (absent: 0)", (f"{BS}.debt_current",), absent_is_zero=True),
    Alias("DEBT", STOCK, "LTD + STD", ("LTD", "STD"), lambda ltd, current: ltd + current),
    Alias("EQ", STOCK, "total_equity", (f"{BS}.total_equity",)),
    Alias("NCI", STOCK, "noncontrolling_interest (balance sheet; absent: 0)", (f"{BS}.noncontrolling_interest",),
          absent_is_zero=True),
    Alias("EQP", STOCK, "total_equity_attributable_to_parent; else EQ - NCI",
          (f"{BS}.total_equity_attributable_to_parent", "EQ", "NCI"), lambda eqp, eq, nci: eqp.fillna(eq - nci)),
    Alias("PREF", STOCK, "preferred_stock (absent: 0)", (f"{BS}.preferred_stock",), absent_is_zero=True),
    Alias("RE", STOCK, "retained_earnings_deficit", (f"{BS}.retained_earnings_deficit",)),
    Alias("LE", STOCK, "total_liabilities_and_equity", (f"{BS}.total_liabilities_and_equity",)),
    # cash-flow statement
    Alias("OCF", FLOW, "net_cash_from_operating_activities", (f"{CF}.net_cash_from_operating_activities",)),
    Alias("CFI", FLOW, "net_cash_from_investing_activities", (f"{CF}.net_cash_from_investing_activities",)),
    Alias("CFF", FLOW, "net_cash_from_financing_activities", (f"{CF}.net_cash_from_financing_activities",)),
    Alias("NCF", FLOW, "change_in_cash_and_equivalents", (f"{CF}.change_in_cash_and_equivalents",)),
    Alias("CAPEX", FLOW, "|purchase_of_property_plant_and_equipment| (absent: 0)",
          (f"{CF}.purchase_of_property_plant_and_equipment",), lambda capex: capex.abs(), absent_is_zero=True),
    Alias("FCF", FLOW, "OCF - CAPEX", ("OCF", "CAPEX"), lambda ocf, capex: ocf - capex),
    Alias("DIV", FLOW, "|dividends| paid (cash-flow statement; absent: 0)", (f"{CF}.dividends",),
          lambda dividends: dividends.abs(), absent_is_zero=True),
)
ALIAS_BY_NAME = {alias.name: alias for alias in ALIASES}

PRICE_SYMBOLS = {
    "P": "close on the price date, as traded (unadjusted)",
    "F": "split factor: shares on the price date per share of the statement's basis "
         "(splits executed after filing_date, up to the price date)",
    "SO": "shares for market value: diluted weighted-average shares of the latest quarter ending "
          "at period_end (for annual rows the fiscal Q4, reported or derived; else the row's own), "
          "on the statement's split basis",
    "MCAP": "P x F x SO",
    "EV": "MCAP + DEBT + NCI + PREF - CASH",
    "D": "days of the row's window",
}


# --- safe arithmetic ---------------------------------------------------------------------------

def finite(values: np.ndarray | pd.Series) -> np.ndarray:
    """``values`` as float64, NaN where not finite."""
    values = np.asarray(values, dtype="float64")
    return np.where(np.isfinite(values), values, np.nan)


def div(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator; null where the denominator is missing or zero."""
    return finite(numerator / np.where(denominator != 0, denominator, np.nan))


def pdiv(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator; null unless the denominator is positive."""
    return finite(numerator / np.where(denominator > 0, denominator, np.nan))


def growth(current: np.ndarray, base: np.ndarray) -> np.ndarray:
    """current / base - 1; null when the base is missing, zero or negative."""
    return pdiv(current, base) - 1


def positive(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, values, np.nan)


def fill_null(values: np.ndarray, fill: float) -> np.ndarray:
    """``values`` with ``fill`` where null (NaN)."""
    return np.where(np.isnan(values), fill, values)


@dataclass(frozen=True)
class Ratio:
    name: str
    category: str
    formula: str
    compute: Callable
    unit: str = RATIO
    needs_price: bool = False
    note: str = ""
    """What a user must know that the formula does not say (e.g. which endpoints give its inputs)."""
    departure: str = ""
    """How this definition differs from the usual textbook one, and why ("" when it does not)."""

    @property
    def inputs(self) -> tuple[str, ...]:
        """The aliases the formula names, in order of first appearance."""
        names = re.findall(r"\b[A-Z][A-Z0-9_]*\b", self.formula)
        return tuple(dict.fromkeys(n for n in names if n in ALIAS_BY_NAME))

    @property
    def averaging(self) -> str:
        if "avg(" in self.formula:
            return "2-point average of opening and closing balance"
        if self.category == GROWTH:
            return "end-of-period balances, compared across periods"
        if any(ALIAS_BY_NAME[name].kind == STOCK for name in self.inputs):
            return "end of period"
        return "none (no balance-sheet item)"


PREPAID_VX_ONLY = ("vX only: prepaid expenses are a line of their own only in the vX financials (the v1 "
                   "balance sheets fold them into other current assets), so this ratio is null on rows "
                   "from the v1 endpoints; quick_ratio is the acid test they allow")
VX_ONLY = ("vX only: the v1 income statements carry no comprehensive income (the vX financials' "
           "comprehensive_income section does), so this ratio is null on rows from the v1 endpoints")


def _margin(alias):
    return lambda x: pdiv(getattr(x, alias), x.REV)


def _avg_turnover(flow, stock):
    return lambda x: pdiv(getattr(x, flow), x.avg(stock))


def _gross_margin(x):
    return pdiv(x.GP, x.REV)


def _operating_margin(x):
    return pdiv(x.OI, x.REV)


def _effective_tax_rate(x):
    return pdiv(x.TAX, x.EBT)


def _payout(x):
    return pdiv(x.DIV, x.NIP)


def _dio(x):
    return pdiv(x.avg("INV"), x.COGS) * x.D


def _dso(x):
    return pdiv(x.avg("AR"), x.REV) * x.D


def _dpo(x):
    return pdiv(x.avg("AP"), x.COGS) * x.D


def _price_to_earnings(x):
    return pdiv(x.P * x.F, x.ttm.EPSD)


def _graham_number(x):
    product = positive(x.ttm.EPSD) * positive(pdiv(x.EQP, x.SO))
    return np.sqrt(22.5 * product)


def _eps_growth_ttm(x):
    return growth(x.ttm.EPSD, x.yoy.ttm.EPSD)


def _altman_z(x):
    return (1.2 * pdiv(x.CA - x.CL, x.TA) + 1.4 * pdiv(x.RE, x.TA) + 3.3 * pdiv(x.ttm.EBIT, x.TA)
            + 0.6 * pdiv(x.MCAP, x.TL) + 1.0 * pdiv(x.ttm.REV, x.TA))


R = Ratio
RATIOS = (
    # --- profitability ---------------------------------------------------------------------------
    R("gross_margin", PROFITABILITY, "GP /+ REV", _gross_margin),
    R("operating_margin", PROFITABILITY, "OI /+ REV", _operating_margin),
    R("pretax_margin", PROFITABILITY, "EBT /+ REV", _margin("EBT")),
    R("net_margin", PROFITABILITY, "NI /+ REV", _margin("NI")),
    R("net_margin_to_parent", PROFITABILITY, "NIP /+ REV", _margin("NIP")),
    R("ebit_margin", PROFITABILITY, "EBIT /+ REV", _margin("EBIT")),
    R("ebitda_margin", PROFITABILITY, "EBITDA /+ REV", _margin("EBITDA")),
    R("cost_of_revenue_ratio", PROFITABILITY, "COGS /+ REV", _margin("COGS")),
    R("opex_to_revenue", PROFITABILITY, "OPEX /+ REV", _margin("OPEX")),
    R("operating_ratio", PROFITABILITY, "(COGS + OPEX) /+ REV", lambda x: pdiv(x.COGS + x.OPEX, x.REV)),
    R("sga_to_revenue", PROFITABILITY, "SGA /+ REV", _margin("SGA")),
    R("rnd_to_revenue", PROFITABILITY, "RND /+ REV", _margin("RND")),
    R("effective_tax_rate", PROFITABILITY, "TAX /+ EBT", _effective_tax_rate),
    R("tax_burden", PROFITABILITY, "NI /+ EBT", lambda x: pdiv(x.NI, x.EBT)),
    R("interest_burden", PROFITABILITY, "EBT /+ EBIT", lambda x: pdiv(x.EBT, x.EBIT)),
    R("return_on_assets", PROFITABILITY, "NI /+ avg(TA)", _avg_turnover("NI", "TA")),
    R("return_on_assets_eop", PROFITABILITY, "NI /+ TA", lambda x: pdiv(x.NI, x.TA)),
    R("return_on_equity", PROFITABILITY, "NIP /+ avg(EQP)", _avg_turnover("NIP", "EQP")),
    R("return_on_equity_eop", PROFITABILITY, "NIP /+ EQP", lambda x: pdiv(x.NIP, x.EQP)),
    R("operating_return_on_assets", PROFITABILITY, "OI /+ avg(TA)", _avg_turnover("OI", "TA")),
    R("return_on_capital_employed", PROFITABILITY, "EBIT /+ avg(TA - CL)",
      lambda x: pdiv(x.EBIT, x.avg(lambda v: v.TA - v.CL))),
    R("return_on_invested_capital", PROFITABILITY,
      "EBIT x (1 - effective_tax_rate) /+ avg(EQ + DEBT - CASH); a null tax rate counts as 0",
      lambda x: pdiv(x.EBIT * (1 - fill_null(_effective_tax_rate(x), 0)), x.avg(lambda v: v.EQ + v.DEBT - v.CASH)),
      departure=('NOPAT = EBIT x (1 - effective tax rate), with a missing tax rate counted as 0; invested capital '
                 "is equity + debt - cash (the 'operating' variant; many texts leave cash in).")),
    R("return_on_tangible_assets", PROFITABILITY, "NI /+ avg(TA - GW - INTANG)",
      lambda x: pdiv(x.NI, x.avg(lambda v: v.TA - v.GW - v.INTANG))),
    R("gross_profit_to_assets", PROFITABILITY, "GP /+ avg(TA)", _avg_turnover("GP", "TA")),
    # --- liquidity -------------------------------------------------------------------------------
    R("current_ratio", LIQUIDITY, "CA /+ CL", lambda x: pdiv(x.CA, x.CL)),
    R("quick_ratio", LIQUIDITY, "(CASH + STI + AR) /+ CL", lambda x: pdiv(x.CASH + x.STI + x.AR, x.CL)),
    R("acid_test_ratio", LIQUIDITY, "(CA - INV - PRE) /+ CL", lambda x: pdiv(x.CA - x.INV - x.PRE, x.CL),
      note=PREPAID_VX_ONLY),
    R("cash_ratio", LIQUIDITY, "CASH /+ CL", lambda x: pdiv(x.CASH, x.CL)),
    R("cash_and_investments_ratio", LIQUIDITY, "(CASH + STI) /+ CL", lambda x: pdiv(x.CASH + x.STI, x.CL)),
    R("working_capital", LIQUIDITY, "CA - CL", lambda x: x.CA - x.CL, USD),
    R("working_capital_to_assets", LIQUIDITY, "(CA - CL) /+ TA", lambda x: pdiv(x.CA - x.CL, x.TA)),
    R("working_capital_to_revenue", LIQUIDITY, "(CA - CL) /+ REV", lambda x: pdiv(x.CA - x.CL, x.REV)),
    R("operating_cash_flow_ratio", LIQUIDITY, "OCF /+ CL", lambda x: pdiv(x.OCF, x.CL)),
    R("short_term_coverage_ratio", LIQUIDITY, "OCF /+ (AR + INV - AP)",
      lambda x: pdiv(x.OCF, x.AR + x.INV - x.AP),
      departure=('Textbook (and FMP): OCF / short-term debt. Here, as FinanceToolkit defines it, OCF over '
                 "operating working capital (AR + INV - AP): how many times a period's operating cash covers the "
                 'working capital it ties up.')),
    R("defensive_interval_days", LIQUIDITY, "(CASH + STI + AR) /+ ((COGS + OPEX - DA) / D)",
      lambda x: pdiv(x.CASH + x.STI + x.AR, (x.COGS + x.OPEX - x.DA) / x.D), DAYS),
    R("cash_to_assets", LIQUIDITY, "CASH /+ TA", lambda x: pdiv(x.CASH, x.TA)),
    R("current_assets_to_assets", LIQUIDITY, "CA /+ TA", lambda x: pdiv(x.CA, x.TA)),
    # --- solvency --------------------------------------------------------------------------------
    R("debt_to_equity", SOLVENCY, "DEBT /+ EQ", lambda x: pdiv(x.DEBT, x.EQ)),
    R("debt_to_assets", SOLVENCY, "DEBT /+ TA", lambda x: pdiv(x.DEBT, x.TA)),
    R("debt_to_capital", SOLVENCY, "DEBT /+ (DEBT + EQ)", lambda x: pdiv(x.DEBT, x.DEBT + x.EQ)),
    R("long_term_debt_to_capitalization", SOLVENCY, "LTD /+ (LTD + EQ)", lambda x: pdiv(x.LTD, x.LTD + x.EQ)),
    R("liabilities_to_assets", SOLVENCY, "TL /+ TA", lambda x: pdiv(x.TL, x.TA)),
    R("liabilities_to_equity", SOLVENCY, "TL /+ EQ", lambda x: pdiv(x.TL, x.EQ)),
    R("equity_ratio", SOLVENCY, "EQ /+ TA", lambda x: pdiv(x.EQ, x.TA)),
    R("equity_multiplier", SOLVENCY, "avg(TA) /+ avg(EQP)", lambda x: pdiv(x.avg("TA"), x.avg("EQP"))),
    R("long_term_debt_to_equity", SOLVENCY, "LTD /+ EQ", lambda x: pdiv(x.LTD, x.EQ)),
    R("noncurrent_liabilities_to_assets", SOLVENCY, "NCL /+ TA", lambda x: pdiv(x.NCL, x.TA)),
    R("current_liabilities_to_liabilities", SOLVENCY, "CL /+ TL", lambda x: pdiv(x.CL, x.TL)),
    R("interest_coverage", SOLVENCY, "EBIT /+ INT", lambda x: pdiv(x.EBIT, x.INT)),
    R("ebitda_interest_coverage", SOLVENCY, "EBITDA /+ INT", lambda x: pdiv(x.EBITDA, x.INT)),
    R("cash_interest_coverage", SOLVENCY, "OCF /+ INT", lambda x: pdiv(x.OCF, x.INT)),
    R("net_debt", SOLVENCY, "DEBT - CASH", lambda x: x.DEBT - x.CASH, USD),
    R("net_debt_to_ebitda", SOLVENCY, "(DEBT - CASH) /+ EBITDA", lambda x: pdiv(x.DEBT - x.CASH, x.EBITDA)),
    R("debt_to_ebitda", SOLVENCY, "DEBT /+ EBITDA", lambda x: pdiv(x.DEBT, x.EBITDA)),
    R("net_debt_to_equity", SOLVENCY, "(DEBT - CASH) /+ EQ", lambda x: pdiv(x.DEBT - x.CASH, x.EQ)),
    R("cash_flow_to_debt", SOLVENCY, "OCF /+ DEBT", lambda x: pdiv(x.OCF, x.DEBT)),
    R("debt_service_coverage", SOLVENCY, "OI /+ CL", lambda x: pdiv(x.OI, x.CL),
      departure=('Textbook: net operating income / debt service (interest plus the principal due in the period). '
                 "The statements give no repayment schedule, so this is FinanceToolkit's simplification, operating"
                 ' income per dollar of current liabilities; interest_coverage and ebitda_interest_coverage are '
                 'the interest-only measures.')),
    R("fixed_assets_to_equity", SOLVENCY, "FA /+ EQ", lambda x: pdiv(x.FA, x.EQ)),
    R("noncontrolling_interest_ratio", SOLVENCY, "NCI /+ EQ", lambda x: pdiv(x.NCI, x.EQ)),
    R("tangible_asset_value", SOLVENCY, "TA - TL - GW - INTANG", lambda x: x.TA - x.TL - x.GW - x.INTANG, USD),
    # --- efficiency ------------------------------------------------------------------------------
    R("asset_turnover", EFFICIENCY, "REV /+ avg(TA)", _avg_turnover("REV", "TA")),
    R("fixed_asset_turnover", EFFICIENCY, "REV /+ avg(FA)", _avg_turnover("REV", "FA")),
    R("current_asset_turnover", EFFICIENCY, "REV /+ avg(CA)", _avg_turnover("REV", "CA")),
    R("noncurrent_asset_turnover", EFFICIENCY, "REV /+ avg(NCA)", _avg_turnover("REV", "NCA")),
    R("working_capital_turnover", EFFICIENCY, "REV /+ avg(CA - CL)",
      lambda x: pdiv(x.REV, x.avg(lambda v: v.CA - v.CL))),
    R("equity_turnover", EFFICIENCY, "REV /+ avg(EQ)", _avg_turnover("REV", "EQ")),
    R("invested_capital_turnover", EFFICIENCY, "REV /+ avg(EQ + DEBT)",
      lambda x: pdiv(x.REV, x.avg(lambda v: v.EQ + v.DEBT))),
    R("cash_turnover", EFFICIENCY, "REV /+ avg(CASH)", _avg_turnover("REV", "CASH")),
    R("inventory_turnover", EFFICIENCY, "COGS /+ avg(INV)", _avg_turnover("COGS", "INV")),
    R("days_inventory_outstanding", EFFICIENCY, "avg(INV) /+ COGS x D", _dio, DAYS),
    R("receivables_turnover", EFFICIENCY, "REV /+ avg(AR)", _avg_turnover("REV", "AR")),
    R("days_sales_outstanding", EFFICIENCY, "avg(AR) /+ REV x D", _dso, DAYS),
    R("payables_turnover", EFFICIENCY, "COGS /+ avg(AP)", _avg_turnover("COGS", "AP")),
    R("days_payables_outstanding", EFFICIENCY, "avg(AP) /+ COGS x D", _dpo, DAYS),
    R("operating_cycle", EFFICIENCY, "days_inventory_outstanding + days_sales_outstanding (avg(INV), avg(AR))",
      lambda x: _dio(x) + _dso(x), DAYS),
    R("cash_conversion_cycle", EFFICIENCY,
      "days_inventory_outstanding + days_sales_outstanding - days_payables_outstanding (avg(INV), avg(AR), avg(AP))",
      lambda x: _dio(x) + _dso(x) - _dpo(x), DAYS),
    # --- cash flow -------------------------------------------------------------------------------
    R("operating_cash_flow_margin", CASH_FLOW, "OCF /+ REV", _margin("OCF")),
    R("free_cash_flow", CASH_FLOW, "FCF", lambda x: x.FCF, USD),
    R("free_cash_flow_margin", CASH_FLOW, "FCF /+ REV", _margin("FCF")),
    R("fcf_to_ocf", CASH_FLOW, "FCF /+ OCF", lambda x: pdiv(x.FCF, x.OCF)),
    R("fcf_conversion", CASH_FLOW, "FCF /+ NIP", lambda x: pdiv(x.FCF, x.NIP)),
    R("income_quality", CASH_FLOW, "OCF /+ NI", lambda x: pdiv(x.OCF, x.NI)),
    R("cash_return_on_assets", CASH_FLOW, "OCF /+ avg(TA)", _avg_turnover("OCF", "TA")),
    R("cash_return_on_equity", CASH_FLOW, "OCF /+ avg(EQ)", _avg_turnover("OCF", "EQ")),
    R("capex_coverage", CASH_FLOW, "OCF /+ CAPEX", lambda x: pdiv(x.OCF, x.CAPEX)),
    R("capex_to_revenue", CASH_FLOW, "CAPEX /+ REV", _margin("CAPEX")),
    R("capex_to_ocf", CASH_FLOW, "CAPEX /+ OCF", lambda x: pdiv(x.CAPEX, x.OCF)),
    R("capex_to_depreciation", CASH_FLOW, "CAPEX /+ DA", lambda x: pdiv(x.CAPEX, x.DA)),
    R("dividend_capex_coverage", CASH_FLOW, "OCF /+ (CAPEX + DIV)", lambda x: pdiv(x.OCF, x.CAPEX + x.DIV)),
    R("dividend_payout_ratio", CASH_FLOW, "DIV /+ NIP", _payout),
    R("retention_ratio", CASH_FLOW, "1 - dividend_payout_ratio (DIV /+ NIP)", lambda x: 1 - _payout(x)),
    R("investing_to_operating", CASH_FLOW, "-CFI /+ OCF", lambda x: pdiv(-x.CFI, x.OCF)),
    R("financing_to_operating", CASH_FLOW, "CFF /+ OCF", lambda x: pdiv(x.CFF, x.OCF)),
    R("ocf_plus_cfi", CASH_FLOW, "OCF + CFI (a crude proxy, not FCF)", lambda x: x.OCF + x.CFI, USD),
    R("cash_flow_to_liabilities", CASH_FLOW, "OCF /+ TL", lambda x: pdiv(x.OCF, x.TL)),
    R("net_cash_flow_to_revenue", CASH_FLOW, "NCF /+ REV", _margin("NCF")),
    # --- per share -------------------------------------------------------------------------------
    R("eps_basic", PER_SHARE_CATEGORY, "EPSB", lambda x: finite(x.EPSB), USD_PER_SHARE),
    R("eps_diluted", PER_SHARE_CATEGORY, "EPSD", lambda x: finite(x.EPSD), USD_PER_SHARE),
    R("eps_diluted_ttm", PER_SHARE_CATEGORY, "ttm(EPSD) = ttm(NIC) / mean of the four quarters' SHD",
      lambda x: finite(x.ttm.EPSD), USD_PER_SHARE,
      departure=("Textbook: the sum of the four quarters' diluted EPS. Here TTM net income to common / the mean of"
                 " the four quarters' diluted shares (restated to one split basis), the rule the vendor's own TTM "
                 'rows use; the two differ when the share count moves during the year.')),
    R("revenue_per_share", PER_SHARE_CATEGORY, "REV /+ SHD", lambda x: pdiv(x.REV, x.SHD), USD_PER_SHARE),
    R("book_value_per_share", PER_SHARE_CATEGORY, "EQP /+ SO", lambda x: pdiv(x.EQP, x.SO), USD_PER_SHARE,
      departure=('Textbook: equity / shares outstanding at period end. The statements give no period-end count, so'
                 " SO, the latest quarter's diluted weighted-average shares, stands in (see market_cap).")),
    R("tangible_book_value_per_share", PER_SHARE_CATEGORY, "(EQP - GW - INTANG) /+ SO",
      lambda x: pdiv(x.EQP - x.GW - x.INTANG, x.SO), USD_PER_SHARE,
      departure='Per share of SO, the diluted weighted-average count (see book_value_per_share).'),
    R("operating_cash_flow_per_share", PER_SHARE_CATEGORY, "OCF /+ SHD", lambda x: pdiv(x.OCF, x.SHD),
      USD_PER_SHARE),
    R("free_cash_flow_per_share", PER_SHARE_CATEGORY, "FCF /+ SHD", lambda x: pdiv(x.FCF, x.SHD), USD_PER_SHARE),
    R("cash_per_share", PER_SHARE_CATEGORY, "CASH /+ SO", lambda x: pdiv(x.CASH, x.SO), USD_PER_SHARE),
    R("capex_per_share", PER_SHARE_CATEGORY, "CAPEX /+ SHD", lambda x: pdiv(x.CAPEX, x.SHD), USD_PER_SHARE),
    R("dividends_paid_per_share", PER_SHARE_CATEGORY, "DIV /+ SHB", lambda x: pdiv(x.DIV, x.SHB), USD_PER_SHARE,
      departure=('Textbook DPS is the dividend declared per share; this is the cash paid in the period (cash-flow '
                 "statement) over the period's basic weighted-average shares, which differs when a declaration and"
                 ' its payment fall in different periods.')),
    R("debt_per_share", PER_SHARE_CATEGORY, "DEBT /+ SO", lambda x: pdiv(x.DEBT, x.SO), USD_PER_SHARE),
    R("working_capital_per_share", PER_SHARE_CATEGORY, "(CA - CL) /+ SO", lambda x: pdiv(x.CA - x.CL, x.SO),
      USD_PER_SHARE),
    R("net_current_asset_value_per_share", PER_SHARE_CATEGORY, "(CA - TL) /+ SO",
      lambda x: pdiv(x.CA - x.TL, x.SO), USD_PER_SHARE),
    R("graham_number", PER_SHARE_CATEGORY, "sqrt(22.5 x ttm(EPSD) x EQP / SO); null unless both are positive",
      _graham_number, USD_PER_SHARE,
      departure=('Uses diluted TTM EPS and equity per SO share (diluted weighted average), not basic EPS and '
                 'period-end shares.')),
    # --- growth ----------------------------------------------------------------------------------
    R("revenue_growth_yoy", GROWTH, "g(REV, yoy(REV))", lambda x: growth(x.REV, x.yoy.REV)),
    R("revenue_growth_qoq", GROWTH, "g(REV, qoq(REV))", lambda x: growth(x.REV, x.qoq.REV)),
    R("gross_profit_growth_yoy", GROWTH, "g(GP, yoy(GP))", lambda x: growth(x.GP, x.yoy.GP)),
    R("gross_profit_growth_qoq", GROWTH, "g(GP, qoq(GP))", lambda x: growth(x.GP, x.qoq.GP)),
    R("operating_income_growth_yoy", GROWTH, "g(OI, yoy(OI))", lambda x: growth(x.OI, x.yoy.OI)),
    R("operating_income_growth_qoq", GROWTH, "g(OI, qoq(OI))", lambda x: growth(x.OI, x.qoq.OI)),
    R("net_income_growth_yoy", GROWTH, "g(NIP, yoy(NIP))", lambda x: growth(x.NIP, x.yoy.NIP)),
    R("net_income_growth_qoq", GROWTH, "g(NIP, qoq(NIP))", lambda x: growth(x.NIP, x.qoq.NIP)),
    R("eps_diluted_growth_yoy", GROWTH, "g(EPSD, yoy(EPSD)), split-adjusted", lambda x: growth(x.EPSD, x.yoy.EPSD)),
    R("eps_diluted_growth_qoq", GROWTH, "g(EPSD, qoq(EPSD)), split-adjusted", lambda x: growth(x.EPSD, x.qoq.EPSD)),
    R("ocf_growth_yoy", GROWTH, "g(OCF, yoy(OCF))", lambda x: growth(x.OCF, x.yoy.OCF)),
    R("ocf_growth_qoq", GROWTH, "g(OCF, qoq(OCF))", lambda x: growth(x.OCF, x.qoq.OCF)),
    R("fcf_growth_yoy", GROWTH, "g(FCF, yoy(FCF))", lambda x: growth(x.FCF, x.yoy.FCF)),
    R("total_assets_growth_yoy", GROWTH, "g(TA, yoy(TA))", lambda x: growth(x.TA, x.yoy.TA)),
    R("total_assets_growth_qoq", GROWTH, "g(TA, qoq(TA))", lambda x: growth(x.TA, x.qoq.TA)),
    R("book_value_growth_yoy", GROWTH, "g(EQP, yoy(EQP))", lambda x: growth(x.EQP, x.yoy.EQP)),
    R("debt_growth_yoy", GROWTH, "g(DEBT, yoy(DEBT))", lambda x: growth(x.DEBT, x.yoy.DEBT)),
    R("diluted_shares_growth_yoy", GROWTH, "g(SHD, yoy(SHD)), split-adjusted", lambda x: growth(x.SHD, x.yoy.SHD)),
    R("inventory_growth_yoy", GROWTH, "g(INV, yoy(INV))", lambda x: growth(x.INV, x.yoy.INV)),
    R("receivables_growth_yoy", GROWTH, "g(AR, yoy(AR))", lambda x: growth(x.AR, x.yoy.AR)),
    R("revenue_cagr_3y", GROWTH, "(REV /+ y3(REV))^(1/3) - 1", lambda x: pdiv(x.REV, x.y3.REV) ** (1 / 3) - 1),
    R("gross_margin_change_yoy", GROWTH, "gross_margin - yoy(gross_margin) (GP /+ REV, a difference)",
      lambda x: _gross_margin(x) - _gross_margin(x.yoy)),
    R("operating_margin_change_yoy", GROWTH, "operating_margin - yoy(operating_margin) (OI /+ REV, a difference)",
      lambda x: _operating_margin(x) - _operating_margin(x.yoy)),
    R("revenue_ttm_growth_yoy", GROWTH, "g(ttm(REV), yoy(ttm(REV)))", lambda x: growth(x.ttm.REV, x.yoy.ttm.REV)),
    R("eps_diluted_ttm_growth_yoy", GROWTH, "g(ttm(EPSD), yoy(ttm(EPSD))), split-adjusted", _eps_growth_ttm),
    # --- valuation (price on the row's available_date; ratios_asof: that day's close) -----------
    R("market_cap", VALUATION, "MCAP = P x F x SO", lambda x: x.MCAP, USD, True,
      departure=('Textbook: shares outstanding on the price date x price. The statement endpoints give no period-'
                 "end or cover-page count, only the period's weighted averages, so SO is the latest quarter's "
                 'diluted weighted-average shares (as FinanceToolkit uses weighted-average shares), put on the '
                 "price date's split basis. Expect values a few percent above a basic-shares market cap, and "
                 'behind buybacks or issuance since the period.')),
    R("enterprise_value", VALUATION, "EV = MCAP + DEBT + NCI + PREF - CASH", lambda x: x.EV, USD, True,
      departure=('Built on market_cap (diluted weighted-average shares, see there); adds preferred stock, which '
                 'the shortest textbook form (MCAP + debt - cash) leaves out.')),
    R("price_to_earnings", VALUATION, "P x F /+ ttm(EPSD)", _price_to_earnings, RATIO, True),
    R("earnings_yield", VALUATION, "ttm(EPSD) /+ (P x F)", lambda x: pdiv(x.ttm.EPSD, x.P * x.F), RATIO, True),
    R("price_to_book", VALUATION, "MCAP /+ EQP", lambda x: pdiv(x.MCAP, x.EQP), RATIO, True),
    R("price_to_tangible_book", VALUATION, "MCAP /+ (EQP - GW - INTANG)",
      lambda x: pdiv(x.MCAP, x.EQP - x.GW - x.INTANG), RATIO, True),
    R("price_to_sales", VALUATION, "MCAP /+ ttm(REV)", lambda x: pdiv(x.MCAP, x.ttm.REV), RATIO, True),
    R("price_to_operating_cash_flow", VALUATION, "MCAP /+ ttm(OCF)", lambda x: pdiv(x.MCAP, x.ttm.OCF), RATIO, True),
    R("price_to_free_cash_flow", VALUATION, "MCAP /+ ttm(FCF)", lambda x: pdiv(x.MCAP, x.ttm.FCF), RATIO, True),
    R("free_cash_flow_yield", VALUATION, "ttm(FCF) /+ MCAP", lambda x: pdiv(x.ttm.FCF, x.MCAP), RATIO, True),
    R("ev_to_sales", VALUATION, "EV /+ ttm(REV)", lambda x: pdiv(x.EV, x.ttm.REV), RATIO, True),
    R("ev_to_ebitda", VALUATION, "EV /+ ttm(EBITDA)", lambda x: pdiv(x.EV, x.ttm.EBITDA), RATIO, True),
    R("ev_to_ebit", VALUATION, "EV /+ ttm(EBIT)", lambda x: pdiv(x.EV, x.ttm.EBIT), RATIO, True),
    R("ev_to_operating_cash_flow", VALUATION, "EV /+ ttm(OCF)", lambda x: pdiv(x.EV, x.ttm.OCF), RATIO, True),
    R("ev_to_free_cash_flow", VALUATION, "EV /+ ttm(FCF)", lambda x: pdiv(x.EV, x.ttm.FCF), RATIO, True),
    R("peg_ratio", VALUATION,
      "price_to_earnings /+ (100 x g(ttm(EPSD), yoy(ttm(EPSD)))); null unless both are positive",
      lambda x: pdiv(positive(_price_to_earnings(x)), 100 * _eps_growth_ttm(x)), RATIO, True),
    R("dividend_yield", VALUATION, "ttm(DIV) /+ MCAP", lambda x: pdiv(x.ttm.DIV, x.MCAP), RATIO, True),
    R("market_cap_to_liabilities", VALUATION, "MCAP /+ TL", lambda x: pdiv(x.MCAP, x.TL), RATIO, True),
    R("altman_z_score", VALUATION,
      "1.2 (CA - CL)/TA + 1.4 RE/TA + 3.3 ttm(EBIT)/TA + 0.6 MCAP/TL + 1.0 ttm(REV)/TA (each /+)",
      _altman_z, SCORE, True),
    # --- quality and data checks -----------------------------------------------------------------
    R("accruals_ratio", QUALITY, "(NI - OCF) /+ avg(TA)", lambda x: pdiv(x.NI - x.OCF, x.avg("TA"))),
    R("intangibles_to_assets", QUALITY, "(GW + INTANG) /+ TA", lambda x: pdiv(x.GW + x.INTANG, x.TA)),
    R("goodwill_to_equity", QUALITY, "GW /+ EQ", lambda x: pdiv(x.GW, x.EQ)),
    R("oci_to_net_income", QUALITY, "OCI /+ NI", lambda x: pdiv(x.OCI, x.NI), note=VX_ONLY),
    R("comprehensive_income_margin", QUALITY, "CI /+ REV", _margin("CI"), note=VX_ONLY),
    R("nci_share_of_net_income", QUALITY, "NCI_NI /+ NI", lambda x: pdiv(x.NCI_NI, x.NI)),
    R("discontinued_ops_share", QUALITY, "DISC /+ NI", lambda x: pdiv(x.DISC, x.NI)),
    R("receivables_minus_revenue_growth", QUALITY, "g(AR, yoy(AR)) - g(REV, yoy(REV))",
      lambda x: growth(x.AR, x.yoy.AR) - growth(x.REV, x.yoy.REV)),
    R("balance_sheet_identity_gap", QUALITY, "(TA - LE) /+ TA", lambda x: pdiv(x.TA - x.LE, x.TA)),
    R("gross_profit_identity_gap", QUALITY, "(REV - COGS - GP) /+ REV", lambda x: pdiv(x.REV - x.COGS - x.GP, x.REV)),
    R("eps_consistency_gap", QUALITY, "EPSB - NIC / SHB", lambda x: x.EPSB - div(x.NIC, x.SHB), USD_PER_SHARE),
)
RATIO_BY_NAME = {ratio.name: ratio for ratio in RATIOS}
VALUATION_RATIOS = tuple(ratio for ratio in RATIOS if ratio.needs_price)
