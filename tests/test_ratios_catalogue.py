"""Every ratio of the catalogue against a value computed by hand on a small fixture
(tests/fixtures/ratios/toy_company.json): FY = calendar year, quarterly flows of 2021-2024 at
0.5, 0.6, 0.8 and 1.0 times one quarter's amounts, every balance at the "open" values except
2024-12-31 ("close"), no Q4 2024 10-Q (derived from the annual report), the FY2024 report filed on Friday 2025-02-14,
the next bar on 2025-02-18 and a 2-for-1 split executed that day: the report's share counts are
on the pre-split basis, so F = 2, and ratios in USD per share are on the post-split basis."""

import json
import math
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from screener_crawler.ratios.catalogue import ALIAS_BY_NAME, PRICE_SYMBOLS, RATIOS, USD_PER_SHARE
from screener_crawler.ratios.compute import compute_ratios

FIXTURE = Path(__file__).parent / "fixtures" / "ratios" / "toy_company.json"

# TTM to 2024-12-31 (4 quarters of 2024), its balances ("close") and the opening balances ("open")
REV, COGS, GP, OPEX, SGA, RND, DA, OI, INT, EBT, EBITDA = 4000, 2400, 1600, 1000, 600, 200, 160, 600, 40, 560, 760
TAX, NI, NCI_NI, NIP, NIC, CI, OCI = 140, 420, 20, 400, 400, 440, 20
OCF, CFI, CFF, NCF, CAPEX, DIV = 520, -240, -200, 80, 120, 100
FCF = OCF - CAPEX
SHB, SHD = 100, 110
EPSB, EPSD = NIC / SHB, NIC / SHD
TA, CA, CASH, STI, AR, INV, FA, GW, INTANG = 5000, 2000, 500, 200, 600, 400, 1500, 300, 200
TL, CL, AP, DEBT, LTD, EQ, NCI, EQP, RE, LE = 3000, 1000, 300, 1300, 1200, 2000, 100, 1900, 800, 5000
TA0, CA0, CASH0, AR0, INV0, FA0, INTANG0 = 4000, 1600, 400, 500, 300, 1200, 100
TL0, CL0, AP0, DEBT0, EQ0, EQP0 = 2500, 800, 200, 1100, 1500, 1400
NCA, NCA0 = TA - CA, TA0 - CA0
D = 365
# comparison periods: TTM to 2023-12-31 (x0.8), to 2024-09-30 (0.8 + 3 quarters), to 2021-12-31 (x0.5)
YOY, QOQ, Y3 = 0.8, 0.95, 0.5
P, F, SO = 50.0, 2.0, 110
MCAP = P * F * SO
EV = MCAP + DEBT + NCI - CASH


def avg(a, b):
    return (a + b) / 2


TAX_RATE = TAX / EBT
DIO, DSO, DPO = avg(INV, INV0) / COGS * D, avg(AR, AR0) / REV * D, avg(AP, AP0) / COGS * D
PE = P * F / EPSD
EPS_GROWTH = 1 / YOY - 1

EXPECTED = {
    "gross_margin": GP / REV, "operating_margin": OI / REV, "pretax_margin": EBT / REV, "net_margin": NI / REV,
    "net_margin_to_parent": NIP / REV, "ebit_margin": OI / REV, "ebitda_margin": EBITDA / REV,
    "cost_of_revenue_ratio": COGS / REV, "opex_to_revenue": OPEX / REV, "operating_ratio": (COGS + OPEX) / REV,
    "sga_to_revenue": SGA / REV, "rnd_to_revenue": RND / REV, "effective_tax_rate": TAX / EBT,
    "tax_burden": NI / EBT, "interest_burden": EBT / OI, "return_on_assets": NI / avg(TA, TA0),
    "return_on_assets_eop": NI / TA, "return_on_equity": NIP / avg(EQP, EQP0), "return_on_equity_eop": NIP / EQP,
    "operating_return_on_assets": OI / avg(TA, TA0),
    "return_on_capital_employed": OI / avg(TA - CL, TA0 - CL0),
    "return_on_invested_capital": OI * (1 - TAX_RATE) / avg(EQ + DEBT - CASH, EQ0 + DEBT0 - CASH0),
    "return_on_tangible_assets": NI / avg(TA - GW - INTANG, TA0 - GW - INTANG0),
    "gross_profit_to_assets": GP / avg(TA, TA0),
    "current_ratio": CA / CL, "quick_ratio": (CASH + STI + AR) / CL, "acid_test_ratio": (CA - INV) / CL,
    "cash_ratio": CASH / CL, "cash_and_investments_ratio": (CASH + STI) / CL, "working_capital": CA - CL,
    "working_capital_to_assets": (CA - CL) / TA, "working_capital_to_revenue": (CA - CL) / REV,
    "operating_cash_flow_ratio": OCF / CL, "short_term_coverage_ratio": OCF / (AR + INV - AP),
    "defensive_interval_days": (CASH + STI + AR) / ((COGS + OPEX - DA) / D), "cash_to_assets": CASH / TA,
    "current_assets_to_assets": CA / TA,
    "debt_to_equity": DEBT / EQ, "debt_to_assets": DEBT / TA, "debt_to_capital": DEBT / (DEBT + EQ),
    "long_term_debt_to_capitalization": LTD / (LTD + EQ), "liabilities_to_assets": TL / TA,
    "liabilities_to_equity": TL / EQ, "equity_ratio": EQ / TA, "equity_multiplier": avg(TA, TA0) / avg(EQP, EQP0),
    "long_term_debt_to_equity": LTD / EQ, "noncurrent_liabilities_to_assets": (TL - CL) / TA,
    "current_liabilities_to_liabilities": CL / TL, "interest_coverage": OI / INT,
    "ebitda_interest_coverage": EBITDA / INT, "cash_interest_coverage": OCF / INT, "net_debt": DEBT - CASH,
    "net_debt_to_ebitda": (DEBT - CASH) / EBITDA, "debt_to_ebitda": DEBT / EBITDA,
    "net_debt_to_equity": (DEBT - CASH) / EQ, "cash_flow_to_debt": OCF / DEBT, "debt_service_coverage": OI / CL,
    "fixed_assets_to_equity": FA / EQ, "noncontrolling_interest_ratio": NCI / EQ,
    "tangible_asset_value": TA - TL - GW - INTANG,
    "asset_turnover": REV / avg(TA, TA0), "fixed_asset_turnover": REV / avg(FA, FA0),
    "current_asset_turnover": REV / avg(CA, CA0), "noncurrent_asset_turnover": REV / avg(NCA, NCA0),
    "working_capital_turnover": REV / avg(CA - CL, CA0 - CL0), "equity_turnover": REV / avg(EQ, EQ0),
    "invested_capital_turnover": REV / avg(EQ + DEBT, EQ0 + DEBT0), "cash_turnover": REV / avg(CASH, CASH0),
    "inventory_turnover": COGS / avg(INV, INV0), "days_inventory_outstanding": DIO,
    "receivables_turnover": REV / avg(AR, AR0), "days_sales_outstanding": DSO,
    "payables_turnover": COGS / avg(AP, AP0), "days_payables_outstanding": DPO, "operating_cycle": DIO + DSO,
    "cash_conversion_cycle": DIO + DSO - DPO,
    "operating_cash_flow_margin": OCF / REV, "free_cash_flow": FCF, "free_cash_flow_margin": FCF / REV,
    "fcf_to_ocf": FCF / OCF, "fcf_conversion": FCF / NIP, "income_quality": OCF / NI,
    "cash_return_on_assets": OCF / avg(TA, TA0), "cash_return_on_equity": OCF / avg(EQ, EQ0),
    "capex_coverage": OCF / CAPEX, "capex_to_revenue": CAPEX / REV, "capex_to_ocf": CAPEX / OCF,
    "capex_to_depreciation": CAPEX / DA, "dividend_capex_coverage": OCF / (CAPEX + DIV),
    "dividend_payout_ratio": DIV / NIP, "retention_ratio": 1 - DIV / NIP, "investing_to_operating": -CFI / OCF,
    "financing_to_operating": CFF / OCF, "ocf_plus_cfi": OCF + CFI, "cash_flow_to_liabilities": OCF / TL,
    "net_cash_flow_to_revenue": NCF / REV,
    "eps_basic": EPSB, "eps_diluted": EPSD, "eps_diluted_ttm": EPSD, "revenue_per_share": REV / SHD,
    "book_value_per_share": EQP / SO, "tangible_book_value_per_share": (EQP - GW - INTANG) / SO,
    "operating_cash_flow_per_share": OCF / SHD, "free_cash_flow_per_share": FCF / SHD, "cash_per_share": CASH / SO,
    "capex_per_share": CAPEX / SHD, "dividends_paid_per_share": DIV / SHB, "debt_per_share": DEBT / SO,
    "working_capital_per_share": (CA - CL) / SO, "net_current_asset_value_per_share": (CA - TL) / SO,
    "graham_number": math.sqrt(22.5 * EPSD * EQP / SO),
    "revenue_growth_yoy": 1 / YOY - 1, "revenue_growth_qoq": 1 / QOQ - 1, "gross_profit_growth_yoy": 1 / YOY - 1,
    "gross_profit_growth_qoq": 1 / QOQ - 1, "operating_income_growth_yoy": 1 / YOY - 1,
    "operating_income_growth_qoq": 1 / QOQ - 1, "net_income_growth_yoy": 1 / YOY - 1,
    "net_income_growth_qoq": 1 / QOQ - 1, "eps_diluted_growth_yoy": 1 / YOY - 1,
    "eps_diluted_growth_qoq": 1 / QOQ - 1, "ocf_growth_yoy": 1 / YOY - 1, "ocf_growth_qoq": 1 / QOQ - 1,
    "fcf_growth_yoy": 1 / YOY - 1, "total_assets_growth_yoy": TA / TA0 - 1, "total_assets_growth_qoq": TA / TA0 - 1,
    "book_value_growth_yoy": EQP / EQP0 - 1, "debt_growth_yoy": DEBT / DEBT0 - 1, "diluted_shares_growth_yoy": 0.0,
    "inventory_growth_yoy": INV / INV0 - 1, "receivables_growth_yoy": AR / AR0 - 1,
    "revenue_cagr_3y": (1 / Y3) ** (1 / 3) - 1, "gross_margin_change_yoy": 0.0, "operating_margin_change_yoy": 0.0,
    "revenue_ttm_growth_yoy": 1 / YOY - 1, "eps_diluted_ttm_growth_yoy": EPS_GROWTH,
    "market_cap": MCAP, "enterprise_value": EV, "price_to_earnings": PE, "earnings_yield": EPSD / (P * F),
    "price_to_book": MCAP / EQP, "price_to_tangible_book": MCAP / (EQP - GW - INTANG),
    "price_to_sales": MCAP / REV, "price_to_operating_cash_flow": MCAP / OCF,
    "price_to_free_cash_flow": MCAP / FCF, "free_cash_flow_yield": FCF / MCAP, "ev_to_sales": EV / REV,
    "ev_to_ebitda": EV / EBITDA, "ev_to_ebit": EV / OI, "ev_to_operating_cash_flow": EV / OCF,
    "ev_to_free_cash_flow": EV / FCF, "peg_ratio": PE / (100 * EPS_GROWTH), "dividend_yield": DIV / MCAP,
    "market_cap_to_liabilities": MCAP / TL,
    "altman_z_score": 1.2 * (CA - CL) / TA + 1.4 * RE / TA + 3.3 * OI / TA + 0.6 * MCAP / TL + 1.0 * REV / TA,
    "accruals_ratio": (NI - OCF) / avg(TA, TA0), "intangibles_to_assets": (GW + INTANG) / TA,
    "goodwill_to_equity": GW / EQ, "oci_to_net_income": OCI / NI, "comprehensive_income_margin": CI / REV,
    "nci_share_of_net_income": NCI_NI / NI, "discontinued_ops_share": 0.0,
    "receivables_minus_revenue_growth": (AR / AR0 - 1) - (1 / YOY - 1), "balance_sheet_identity_gap": 0.0,
    "gross_profit_identity_gap": 0.0, "eps_consistency_gap": 0.0,
}
LATEST_SPLIT_BASIS = 2.0
"""Shares after the fixture's split per share before it."""
for _ratio in RATIOS:
    if _ratio.unit == USD_PER_SHARE:
        EXPECTED[_ratio.name] /= LATEST_SPLIT_BASIS


def fixture_frames():
    data = json.loads(FIXTURE.read_text())
    return {name: pd.DataFrame(rows) for name, rows in data.items()}


@pytest.fixture(scope="module")
def toy_ratios():
    frames = fixture_frames()
    statements = {name: frames[name] for name in ("balance_sheets", "income_statements", "cash_flow")}
    return compute_ratios("TOY", statements, frames["daily_prices"], frames["splits"])


@pytest.fixture(scope="module")
def ttm_2024(toy_ratios):
    rows = toy_ratios[(toy_ratios["timeframe"] == "trailing_twelve_months")
                      & (toy_ratios["period_end"] == pd.Timestamp("2024-12-31"))]
    assert len(rows) == 1
    return rows.iloc[0]


def test_every_ratio_has_a_hand_computed_value():
    assert set(EXPECTED) == {ratio.name for ratio in RATIOS}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ratio_matches_the_hand_computed_value(ttm_2024, name):
    assert ttm_2024[name] == pytest.approx(EXPECTED[name], rel=1e-9, abs=1e-12), name


def test_the_catalogue_has_at_least_121_ratios_in_every_category():
    assert len(RATIOS) >= 121
    categories = {ratio.category for ratio in RATIOS}
    assert {"profitability", "liquidity", "solvency", "efficiency", "cash_flow", "per_share", "growth",
            "valuation"} <= categories
    assert any(r.name.endswith("_qoq") for r in RATIOS) and any(r.name.endswith("_yoy") for r in RATIOS)


def test_every_upper_case_name_in_a_formula_is_a_declared_input():
    for ratio in RATIOS:
        for name in re.findall(r"\b[A-Z][A-Z0-9_]*\b", ratio.formula):
            assert name in ALIAS_BY_NAME or name in PRICE_SYMBOLS, (ratio.name, name)


def test_the_missing_q4_is_derived_from_the_annual_report(toy_ratios):
    q4 = toy_ratios[(toy_ratios["timeframe"] == "quarterly") & (toy_ratios["period_end"] == pd.Timestamp("2024-12-31"))]
    assert len(q4) == 1 and bool(q4.iloc[0]["q4_derived"])
    row = q4.iloc[0]
    assert row["filing_date"] == pd.Timestamp("2025-02-14")
    assert row["gross_margin"] == pytest.approx(400 / 1000)
    assert row["eps_basic"] == pytest.approx(100 / 100 / LATEST_SPLIT_BASIS)  # NIC_Q4 / (4 x 100 - 3 x 100 shares)
    assert row["days_sales_outstanding"] == pytest.approx(avg(600, 500) / 1000 * 92)  # Oct 1 - Dec 31


def test_available_date_is_the_first_trading_day_after_the_filing(ttm_2024):
    assert ttm_2024["available_date"] == pd.Timestamp(date(2025, 2, 18))
    assert ttm_2024["close"] == 50.0 and ttm_2024["split_factor"] == 2.0


def test_no_value_is_infinite_and_zero_denominators_are_null(toy_ratios):
    numbers = toy_ratios[[r.name for r in RATIOS]].to_numpy(dtype=float)
    assert not (abs(numbers) == float("inf")).any()
    first_quarter = toy_ratios[(toy_ratios["timeframe"] == "quarterly")].iloc[0]
    assert pd.isna(first_quarter["return_on_assets"])  # no opening balance
    assert pd.isna(first_quarter["revenue_growth_yoy"])  # no year-ago period


def test_growth_on_a_negative_or_zero_base_is_null():
    from screener_crawler.ratios.catalogue import growth
    values = growth(np.array([5.0, 5.0, 5.0, 5.0]), np.array([-5.0, 0.0, float("nan"), 2.5]))
    assert np.isnan(values).tolist() == [True, True, True, False] and values[3] == pytest.approx(1.0)
