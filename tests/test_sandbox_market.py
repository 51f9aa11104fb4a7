"""The synthetic market itself: determinism and accounting identities."""

import random
from datetime import date

import pytest

from screener_crawler.sandbox.market import SyntheticMarket


@pytest.fixture(scope="module")
def market():
    return SyntheticMarket(size=400, delisted=40)


def sample_tickers(market, n=40):
    rng = random.Random(7)
    return ["AAPL", "MSFT"] + rng.sample(market.tickers, n)


def test_same_seed_same_data():
    a, b = SyntheticMarket(size=200, delisted=20, seed=5), SyntheticMarket(size=200, delisted=20, seed=5)
    assert a.tickers == b.tickers
    for t in a.tickers[:30]:
        assert a.statements(t) == b.statements(t)
        assert a.dividends(t) == b.dividends(t) and a.splits(t) == b.splits(t)
    assert SyntheticMarket(size=200, delisted=20, seed=6).tickers != a.tickers


def test_subset_independent_of_generation_order():
    a, b = SyntheticMarket(size=200, delisted=20), SyntheticMarket(size=200, delisted=20)
    for t in a.tickers[:20]:
        a.statements(t)
    assert a.statements("MSFT") == b.statements("MSFT")


def test_universe(market):
    assert len(market.tickers) == len(set(market.tickers)) == 440
    assert market.company("AAPL").name == "Apple Inc." and market.company("AAPL").fy_end == 9
    assert all(market.company(t).delisted for t in market.tickers[400:])
    no_financials = sum(not market.periods(t) for t in market.tickers)
    assert 0 < no_financials < 60


def test_accounting_identities(market):
    for t in sample_tickers(market):
        for st in market.statements(t):
            bal, inc, cf = (st.values[d] for d in ("balance_sheets", "income_statements", "cash_flow"))
            assert bal["total_assets"] == bal["total_liabilities"] + bal["total_equity"] == \
                bal["total_liabilities_and_equity"]
            if "total_current_assets" in bal:
                assert bal["total_assets"] == bal["total_current_assets"] + bal["noncurrent_assets"]
            if "gross_profit" in inc:
                assert inc["gross_profit"] == inc["revenue"] - inc["cost_of_revenue"]
                assert inc["operating_income"] == inc["gross_profit"] - inc["total_operating_expenses"]
            assert inc["consolidated_net_income_loss"] == inc["income_before_income_taxes"] - inc["income_taxes"]
            assert inc["basic_earnings_per_share"] == round(
                inc["net_income_loss_attributable_common_shareholders"] / inc["basic_shares_outstanding"], 2)
            sections = (cf["net_cash_from_operating_activities"] + cf["net_cash_from_investing_activities"]
                        + cf["net_cash_from_financing_activities"] + cf.get("effect_of_currency_exchange_rate", 0))
            assert sections == cf["change_in_cash_and_equivalents"]
            for v in list(bal.values()) + [v for k, v in inc.items() if "per_share" not in k]:
                assert v % 1000 == 0


def test_cash_moves_by_cash_flow_and_annual_sums(market):
    for t in sample_tickers(market):
        quarters = [s for s in market.statements(t) if s.timeframe == "quarterly"]
        for prev, cur in zip(quarters, quarters[1:]):
            delta = cur.values["balance_sheets"]["cash_and_equivalents"] - prev.values["balance_sheets"]["cash_and_equivalents"]
            assert delta == cur.values["cash_flow"]["change_in_cash_and_equivalents"]
        by_q = {s.period.q: s for s in quarters}
        for s in market.statements(t):
            if s.timeframe in ("annual", "ttm"):
                four = [by_q[q] for q in range(s.period.q - 3, s.period.q + 1)]
                assert s.values["income_statements"]["revenue"] == sum(f.values["income_statements"]["revenue"] for f in four)
                assert s.values["balance_sheets"] == four[-1].values["balance_sheets"]
                if s.timeframe == "annual":
                    assert [f.period.fiscal_quarter for f in four] == [1, 2, 3, 4]


def test_filing_lags(market):
    for t in sample_tickers(market):
        for p in market.periods(t):
            lag = (p.filing_date - p.end).days
            assert (55 <= lag <= 78) if p.fiscal_quarter == 4 else (25 <= lag <= 48)


def test_splits_prices_dividends_consistent(market):
    aapl = market.company("AAPL")
    assert [(s.split_from, s.split_to) for s in market.splits("AAPL")] == [(1, 2), (1, 7), (1, 4)]
    assert market.splits("AAPL")[0].historical_adjustment_factor == round(1 / 56, 6)
    for d in market.dividends("AAPL"):
        m = aapl.split_multiplier(d.ex_dividend_date)
        assert d.split_adjusted_cash_amount == pytest.approx(d.cash_amount * m, abs=1e-6)
    eps = {s.period.end: s.values["income_statements"]["basic_shares_outstanding"]
           for s in market.statements("AAPL") if s.timeframe == "quarterly"}
    before = max(d for d in eps if d.year == 2020 and d.month <= 7)
    after = min(d for d in eps if d.year == 2020 and d.month >= 9)
    assert 3.5 < eps[after] / eps[before] < 4.5  # shares as reported jump at the 4-for-1


def test_every_report_is_filed_on_a_day_edgar_accepts_filings(market):
    from pandas.tseries.holiday import USFederalHolidayCalendar
    holidays = set(USFederalHolidayCalendar().holidays(start="2009-01-01", end="2026-12-31").date)
    filed = [p.filing_date for t in market.tickers for p in market.periods(t)]
    assert len(filed) > 10_000
    assert not [day for day in filed if day.weekday() >= 5 or day in holidays]


def test_no_bar_trades_at_zero():
    # the whole universe's cheapest price paths, every bar as traded
    market = SyntheticMarket()
    cheapest = sorted(market.tickers, key=lambda t: min(market._knots(t)[2]))[:15]
    bars = [bar for t in cheapest for bar in market.bars(t, date(2003, 1, 1), market.as_of, adjusted=False)]
    assert len(bars) > 20_000
    assert min(min(bar.o, bar.h, bar.l, bar.c, bar.vw) for bar in bars) > 0
