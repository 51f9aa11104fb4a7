"""Splits: the sandbox files share counts and EPS on the split basis of each report's filing date
(annual and TTM rows included), and the ratios put every per-share value on the latest split's
basis, so no per-share series of a ticker jumps by a split factor (AAPL: 4-for-1 on 2020-08-31)."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from screener_crawler.polygon.fields import STATEMENTS
from screener_crawler.ratios.compute import compute_ratios
from screener_crawler.sandbox.market import SyntheticMarket

SPLIT = pd.Timestamp("2020-08-31")
PER_SHARE_SERIES = ("cash_per_share", "debt_per_share", "eps_diluted_ttm", "revenue_per_share")


def statement_frames(market, ticker):
    """The sandbox's quarterly and annual statement rows of ``ticker``, one frame per dataset."""
    rows = {dataset: [] for dataset in STATEMENTS}
    for statement in market.statements(ticker):
        if statement.timeframe == "ttm":
            continue
        period = statement.period
        meta = {"timeframe": statement.timeframe, "fiscal_year": period.fiscal_year,
                "fiscal_quarter": period.fiscal_quarter if statement.timeframe == "quarterly" else None,
                "period_start": statement.start, "period_end": period.end, "filing_date": period.filing_date}
        for dataset in STATEMENTS:
            rows[dataset].append({**meta, **statement.values[dataset]})
    return {dataset: pd.DataFrame(records) for dataset, records in rows.items()}


@pytest.fixture(scope="module")
def apple():
    market = SyntheticMarket(size=60, delisted=6)
    assert (date(2020, 8, 31), 1, 4) in market.company("AAPL").splits
    bars = market.bars("AAPL", date(2009, 1, 1), date(2025, 11, 21), adjusted=False)
    prices = pd.DataFrame({"date": [bar.day for bar in bars], "close": [bar.c for bar in bars]})
    splits = pd.DataFrame([{"execution_date": split.execution_date, "split_from": split.split_from,
                            "split_to": split.split_to} for split in market.splits("AAPL")])
    statements = statement_frames(market, "AAPL")
    return statements, compute_ratios("AAPL", statements, prices, splits), splits


def test_the_annual_report_of_the_split_year_counts_its_shares_on_the_post_split_basis(apple):
    income = apple[0]["income_statements"]
    fiscal_2020 = income[income["fiscal_year"] == 2020]
    annual = fiscal_2020[fiscal_2020["timeframe"] == "annual"].iloc[0]
    assert annual["filing_date"] > SPLIT.date()
    quarters = fiscal_2020[fiscal_2020["timeframe"] == "quarterly"].sort_values("fiscal_quarter")
    # Q1-Q3 were filed before the split (pre-split counts), Q4's period ends after it
    restated = [shares * (4 if filed <= SPLIT.date() else 1)
                for shares, filed in zip(quarters["diluted_shares_outstanding"], quarters["filing_date"])]
    assert annual["diluted_shares_outstanding"] == pytest.approx(np.mean(restated), rel=1e-3)
    assert annual["diluted_earnings_per_share"] == pytest.approx(
        annual["net_income_loss_attributable_common_shareholders"] / annual["diluted_shares_outstanding"], abs=0.01)


@pytest.mark.parametrize("name", PER_SHARE_SERIES)
def test_no_per_share_series_jumps_at_the_split(apple, name):
    ratios = apple[1]
    ttm = ratios[ratios["timeframe"] == "trailing_twelve_months"].sort_values("period_end")
    values = ttm.set_index("period_end")[name].dropna()
    before, after = values[values.index < SPLIT], values[values.index >= SPLIT]
    assert len(before) > 20 and len(after) > 10
    step = after.iloc[0] / before.iloc[-1]
    assert 0.6 < step < 1.6, f"{name} steps by {step:.2f} across the split"
    moves = (values / values.shift()).dropna()
    assert ((moves > 0.4) & (moves < 2.5)).all(), f"{name} jumps: {moves[(moves <= 0.4) | (moves >= 2.5)]}"


def test_annual_and_trailing_per_share_values_agree_in_the_split_year(apple):
    ratios = apple[1].set_index(["timeframe", "period_end"])
    annual = ratios.loc["annual"]
    year_end = annual.index[(annual.index > SPLIT) & (annual.index < SPLIT + pd.Timedelta(days=40))][0]
    for name in ("revenue_per_share", "eps_diluted"):
        assert annual.loc[year_end, name] == pytest.approx(
            ratios.loc[("trailing_twelve_months", year_end), name], rel=0.02), name


def test_market_value_and_price_to_earnings_do_not_jump_at_the_split(apple):
    ratios = apple[1]
    ttm = ratios[ratios["timeframe"] == "trailing_twelve_months"].sort_values("period_end").set_index("period_end")
    for name in ("market_cap", "price_to_earnings"):
        values = ttm[name].dropna()
        step = values[values.index >= SPLIT].iloc[0] / values[values.index < SPLIT].iloc[-1]
        assert 0.5 < step < 2.0, f"{name} steps by {step:.2f} across the split"


def test_a_fourth_quarter_derived_in_the_split_year_counts_shares_on_the_annual_reports_basis(apple):
    statements, _, splits = apple
    income = statements["income_statements"]
    q4_2020 = (income["fiscal_year"] == 2020) & (income["fiscal_quarter"] == 4) & (income["timeframe"] == "quarterly")
    reported = income[q4_2020].iloc[0]
    without_q4 = {dataset: frame[~((frame["fiscal_year"] == 2020) & (frame["fiscal_quarter"] == 4)
                                   & (frame["timeframe"] == "quarterly"))] for dataset, frame in statements.items()}
    ratios = compute_ratios("AAPL", without_q4, splits=splits)
    derived = ratios[ratios["q4_derived"] & (ratios["period_end"] == pd.Timestamp(reported["period_end"]))].iloc[0]
    # 4 x FY - (Q1 + Q2 + Q3), the quarters restated 4-for-1: near the reported Q4, not off by the split
    assert derived["basis_cur_so"] == pytest.approx(reported["diluted_shares_outstanding"], rel=0.02)
