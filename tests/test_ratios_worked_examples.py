"""The worked examples of ../shared/ratios/CATALOGUE.md §3 (Apple FY2023, USD millions, shares
in thousands) reproduce to the published precision."""

import pandas as pd
import pytest

from screener_crawler.ratios.compute import compute_ratios

M, K = 1e6, 1e3


def statement(dataset, timeframe, fiscal_year, fiscal_quarter, period_end, filing_date, **values):
    return dataset, {"ticker": "AAPL", "timeframe": timeframe, "fiscal_year": fiscal_year,
                     "fiscal_quarter": fiscal_quarter, "period_start": None, "period_end": period_end,
                     "filing_date": filing_date, **values}


def apple_statements():
    """The worked examples' Apple statements: dataset -> DataFrame."""
    rows = [
        statement("income_statements", "annual", 2023, None, "2023-09-30", "2023-11-03", revenue=383_285 * M,
                  cost_of_revenue=214_137 * M, gross_profit=169_148 * M, operating_income=114_301 * M,
                  income_before_income_taxes=113_736 * M, income_taxes=16_741 * M,
                  consolidated_net_income_loss=96_995 * M, basic_shares_outstanding=15_744_231 * K,
                  diluted_shares_outstanding=15_812_547 * K),
        statement("balance_sheets", "annual", 2023, None, "2023-09-30", "2023-11-03", total_assets=352_583 * M,
                  total_current_assets=143_566 * M, total_current_liabilities=145_308 * M,
                  total_equity=62_146 * M, cash_and_equivalents=29_965 * M, short_term_investments=31_590 * M),
        statement("income_statements", "annual", 2022, None, "2022-09-24", "2022-10-28", revenue=394_328 * M,
                  gross_profit=170_782 * M),
        statement("balance_sheets", "annual", 2022, None, "2022-09-24", "2022-10-28", total_assets=352_755 * M,
                  total_current_assets=135_405 * M, total_current_liabilities=153_982 * M, total_equity=50_672 * M),
    ]
    for quarter, end, filed, revenue, net_income in ((1, "2022-12-31", "2023-02-03", 117_154, 29_998),
                                                     (2, "2023-04-01", "2023-05-05", 94_836, 24_160),
                                                     (3, "2023-07-01", "2023-08-04", 81_797, 19_881)):
        rows.append(statement("income_statements", "quarterly", 2023, quarter, end, filed, revenue=revenue * M,
                              consolidated_net_income_loss=net_income * M,
                              basic_shares_outstanding=15_792_497 * K, diluted_shares_outstanding=15_859_263 * K))
    statements = {}
    for dataset, row in rows:
        statements.setdefault(dataset, []).append(row)
    return {d: pd.DataFrame(r) for d, r in statements.items()}


def apple_ratios():
    return compute_ratios("AAPL", apple_statements())


@pytest.fixture(scope="module")
def fy2023():
    ratios = apple_ratios()
    return ratios[(ratios["timeframe"] == "annual") & (ratios["fiscal_year"] == 2023)].iloc[0]


@pytest.fixture(scope="module")
def fy2023_q4():
    ratios = apple_ratios()
    return ratios[(ratios["timeframe"] == "quarterly") & (ratios["fiscal_quarter"] == 4)].iloc[0]


def test_example_3_margins_and_tax(fy2023):
    assert round(fy2023["gross_margin"], 6) == 0.441311
    assert round(fy2023["operating_margin"], 6) == 0.298214
    assert round(fy2023["net_margin"], 6) == 0.253062
    assert round(fy2023["pretax_margin"], 6) == 0.296740
    assert round(fy2023["effective_tax_rate"], 6) == 0.147192
    assert round(fy2023["tax_burden"], 6) == 0.852808


def test_example_1_current_ratio(fy2023):
    assert round(fy2023["current_ratio"], 5) == 0.98801
    assert round(fy2023["current_ratio"], 2) == 0.99


def test_example_2_cash_ratio_with_and_without_marketable_securities(fy2023):
    assert round(fy2023["cash_and_investments_ratio"], 4) == 0.4236
    assert round(fy2023["cash_ratio"], 4) == 0.2062


def test_example_4_roe_and_roa_end_of_period_and_two_point_average(fy2023):
    assert round(fy2023["return_on_equity_eop"], 4) == 1.5608
    assert round(fy2023["return_on_equity"], 4) == 1.7195
    assert round(fy2023["return_on_assets_eop"], 5) == 0.27510
    assert round(fy2023["return_on_assets"], 5) == 0.27503
    assert round(fy2023["asset_turnover"], 4) == 1.0868


def test_example_3_fy2022_gross_margin():
    ratios = apple_ratios()
    fy2022 = ratios[(ratios["timeframe"] == "annual") & (ratios["fiscal_year"] == 2022)].iloc[0]
    assert round(fy2022["gross_margin"], 4) == 0.4331


def test_example_5_q4_derivation_and_share_count(fy2023_q4):
    assert fy2023_q4["q4_derived"]
    assert fy2023_q4["revenue_per_share"] * 15_672_399 * K == pytest.approx(89_498 * M)
    assert round(fy2023_q4["eps_basic"], 4) == 1.4716
    assert round(fy2023_q4["eps_basic"], 2) == 1.47
    assert fy2023_q4["net_margin"] == pytest.approx(22_956 / 89_498)
