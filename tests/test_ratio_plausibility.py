"""Rows built to break the plausibility rules of docs/RATIOS.md: a share count that cannot be
(zero or negative, reported or derived) gives no market value and no per-share ratio, and a
multiple over a negative denominator is null."""

import numpy as np
import pandas as pd
import pytest

from screener_crawler.ratios.catalogue import PER_SHARE_CATEGORY, RATIOS
from screener_crawler.ratios.compute import compute_many, compute_ratios
from screener_crawler.ratios.periods import SHARES_NOT_POSITIVE
from tests.test_ratios_worked_examples import K, M, apple_statements

PER_SHARE_RATIOS = [ratio.name for ratio in RATIOS if ratio.category == PER_SHARE_CATEGORY]
AFTER_THE_ANNUAL_REPORT = pd.DataFrame({"date": pd.to_datetime(["2023-11-06"]), "close": [180.0]})


def apple_with(annual_diluted_shares=None, annual_ebitda_parts=None):
    statements = apple_statements()
    income = statements["income_statements"]
    annual_2023 = (income["timeframe"] == "annual") & (income["fiscal_year"] == 2023)
    if annual_diluted_shares is not None:
        income.loc[annual_2023, "diluted_shares_outstanding"] = annual_diluted_shares
    if annual_ebitda_parts is not None:
        for column, value in annual_ebitda_parts.items():
            income.loc[annual_2023, column] = value
    return statements


def test_a_derived_fourth_quarter_with_a_negative_share_count_has_no_market_value_and_no_per_share_ratio():
    # 4 x 11,000,000 K - 3 x 15,859,263 K < 0: the derived Q4's diluted shares cannot be
    ratios = compute_ratios("AAPL", apple_with(annual_diluted_shares=11_000_000 * K), AFTER_THE_ANNUAL_REPORT)
    q4 = ratios[(ratios["timeframe"] == "quarterly") & (ratios["fiscal_quarter"] == 4)].iloc[0]
    assert q4["q4_derived"] and q4["close"] == 180.0
    for name in ("market_cap", "enterprise_value", "price_to_sales", "price_to_book", "basis_cur_so",
                 *PER_SHARE_RATIOS):
        assert np.isnan(q4[name]), name
    assert ratios.attrs[SHARES_NOT_POSITIVE] == 1
    annual = ratios[(ratios["timeframe"] == "annual") & (ratios["fiscal_year"] == 2023)].iloc[0]
    assert annual["market_cap"] == pytest.approx(180.0 * 11_000_000 * K), "the year falls back to its own count"


def test_the_same_rows_with_a_possible_share_count_keep_them():
    ratios = compute_ratios("AAPL", apple_statements(), AFTER_THE_ANNUAL_REPORT)
    q4 = ratios[(ratios["timeframe"] == "quarterly") & (ratios["fiscal_quarter"] == 4)].iloc[0]
    assert q4["market_cap"] > 0 and q4["eps_diluted"] > 0
    assert ratios.attrs[SHARES_NOT_POSITIVE] == 0


def test_a_reported_zero_share_count_is_no_count_either():
    statements = apple_statements()
    income = statements["income_statements"]
    income.loc[income["fiscal_quarter"] == 2, "basic_shares_outstanding"] = 0.0
    many = compute_many({dataset: frame.assign(ticker="AAPL") for dataset, frame in statements.items()})
    q2 = many[(many["timeframe"] == "quarterly") & (many["fiscal_quarter"] == 2)].iloc[0]
    assert np.isnan(q2["eps_basic"]) and np.isnan(q2["eps_diluted"]) and np.isnan(q2["revenue_per_share"])
    assert many.attrs[SHARES_NOT_POSITIVE] >= 1


def test_multiples_over_a_negative_denominator_are_null():
    losses = {"operating_income": -5_000 * M, "consolidated_net_income_loss": -4_000 * M,
              "revenue": -1.0 * M}
    ratios = compute_ratios("AAPL", apple_with(annual_ebitda_parts=losses), AFTER_THE_ANNUAL_REPORT)
    annual = ratios[(ratios["timeframe"] == "annual") & (ratios["fiscal_year"] == 2023)].iloc[0]
    assert annual["market_cap"] > 0
    for name in ("price_to_sales", "ev_to_sales", "ev_to_ebit", "price_to_earnings"):
        assert np.isnan(annual[name]), name


@pytest.mark.parametrize("source, free_cash_flow", [("v1", 520.0), ("vX", None)])
def test_a_missing_capex_counts_as_zero_only_where_the_endpoint_reports_capex(source, free_cash_flow):
    # v1 cash-flow statements have a capex line (absent: the company spent nothing); vX ones never do
    from tests.test_ratios_catalogue import fixture_frames
    frames = fixture_frames()
    statements = {name: frames[name].assign(source=source) for name in ("balance_sheets", "income_statements")}
    statements["cash_flow"] = frames["cash_flow"].drop(columns=["purchase_of_property_plant_and_equipment"]) \
        .assign(source=source)
    ratios = compute_ratios("TOY", statements, frames["daily_prices"], frames["splits"])
    ttm = ratios[(ratios["timeframe"] == "trailing_twelve_months")
                 & (ratios["period_end"] == pd.Timestamp("2024-12-31"))].iloc[0]
    if free_cash_flow is None:
        for name in ("free_cash_flow", "free_cash_flow_margin", "capex_coverage", "price_to_free_cash_flow"):
            assert np.isnan(ttm[name]), name
    else:
        assert ttm["free_cash_flow"] == pytest.approx(free_cash_flow) and ttm["capex_to_revenue"] == 0.0
