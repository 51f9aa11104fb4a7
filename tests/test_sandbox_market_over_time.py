"""The synthetic market seen as of different days is one history: the market as of a day D shows
what the market as of a later day shows for the days up to D, less what is dated after D
(filings, dividends, splits, listings, delistings). This is what makes an update testable."""

from datetime import date, timedelta

import pytest

from screener_crawler.sandbox.market import REFERENCE_DAY, SyntheticMarket
from screener_crawler.trading_calendar import trading_days

SIZE, DELISTED = 1500, 150


def after(day, sessions):
    """The trading day ``sessions`` sessions after ``day``."""
    return trading_days(day + timedelta(days=1), day + timedelta(days=3 * sessions + 10))[sessions - 1]


EARLIER = date(2025, 10, 1)
D1 = after(REFERENCE_DAY, 40)
D2 = after(D1, 5)


@pytest.fixture(scope="module")
def markets():
    return {day: SyntheticMarket(size=SIZE, delisted=DELISTED, as_of=day)
            for day in (EARLIER, REFERENCE_DAY, D1, D2)}


def changed_between(market_before, market_after):
    """Tickers listed, delisted and split between the two markets' as-of days."""
    before, later = market_before.as_of, market_after.as_of
    listed = set(market_after.tickers) - {market_after.renamed.get(t, t) for t in market_before.tickers}
    delisted = {t for t in market_before.active_tickers
                if market_after.company(market_after.renamed.get(t, t)).delisted}
    split = {t for t in market_after.tickers
             if any(before < s.execution_date <= later for s in market_after.splits(t))}
    return listed, delisted, split


def sample(market, changed, n=40):
    step = max(1, len(market.tickers) // n)
    return sorted(set(market.tickers[::step]) | {"AAPL", "MSFT"} | (changed & set(market.tickers)))


@pytest.mark.parametrize("earlier, later", [(EARLIER, REFERENCE_DAY), (REFERENCE_DAY, D1), (D1, D2)])
def test_the_market_as_of_a_day_is_what_a_later_market_shows_up_to_that_day(markets, earlier, later):
    before, after_ = markets[earlier], markets[later]
    listed, delisted, split = changed_between(before, after_)
    assert {after_.renamed.get(t, t) for t in before.tickers} <= set(after_.tickers)
    assert {after_.company(t).list_date for t in listed} <= set(trading_days(earlier + timedelta(days=1), later))
    for t in sample(before, delisted | split | set(after_.renamed)):
        now = after_.renamed.get(t, t)
        old, new = before.company(t), after_.company(now)
        assert (old.name, old.cik, old.list_date, old.composite_figi) == (new.name, new.cik, new.list_date,
                                                                          new.composite_figi)
        assert old.delisted is None or old.delisted == new.delisted
        assert before.statements(t) == [row._replace(ticker=t) for row in after_.statements(now)
                                        if row.period.filing_date <= earlier]
        first, last = before.price_window(t)
        first = max(first, earlier - timedelta(days=400))
        assert before.render_bars(t, *before.bar_window(t, first, last), adjusted=False) == \
            after_.render_bars(now, *after_.bar_window(now, first, last), adjusted=False)
        if t not in split:
            assert before.render_bars(t, *before.bar_window(t, first, last)) == \
                after_.render_bars(now, *after_.bar_window(now, first, last))
        as_declared = lambda d: (d.id, d.cash_amount, d.declaration_date, d.ex_dividend_date, d.record_date,
                                 d.pay_date, d.distribution_type)
        assert [as_declared(d) for d in before.dividends(t)] == \
            [as_declared(d) for d in after_.dividends(now) if d.ex_dividend_date <= earlier]
        assert [s[1:5] for s in before.splits(t)] == \
            [s[1:5] for s in after_.splits(now) if s.execution_date <= earlier]
        assert before.events(t) == [e for e in after_.events(now) if e[0] <= earlier]
        assert [after_.renamed.get(peer, peer) for peer in before.related(t)] == after_.related(now)
    day = trading_days(earlier - timedelta(days=6), earlier)[-1]
    assert [renamed_bar(bar, after_.renamed) for bar in before.render_grouped(day, adjusted=False)] == \
        after_.render_grouped(day, adjusted=False)


def renamed_bar(text, renamed):
    """A grouped bar's text under the ticker its company has taken since (grouped bars of any
    day name the ticker as of the market's as-of date)."""
    ticker = text.split('"')[3]
    return text.replace(f'"T":"{ticker}"', f'"T":"{renamed.get(ticker, ticker)}"', 1)


def test_a_week_after_the_reference_day_has_new_listings_delistings_and_filings(markets):
    listed, delisted, split = changed_between(markets[REFERENCE_DAY], markets[D1])
    assert len(listed) > 5 and len(delisted) > 5 and split
    new = markets[D1]
    for t in listed:
        assert new.company(t).delisted is None and t in new.active_tickers
        assert new.price_window(t)[0] == new.company(t).list_date
    for t in delisted:
        assert t not in new.active_tickers and new.company(t).delisted <= D1
        assert new.price_window(t)[1] < new.company(t).delisted
    filed = [p for t in new.tickers for p in new.periods(t) if REFERENCE_DAY < p.filing_date <= D1]
    assert len(filed) > 100


def test_a_split_after_the_reference_day_restates_adjusted_history_and_not_the_traded_prices(markets):
    before, after_ = markets[REFERENCE_DAY], markets[D2]
    ticker, when, ratio = next((t, s.execution_date, s.split_from / s.split_to) for t in after_.tickers
                               for s in after_.splits(t) if REFERENCE_DAY < s.execution_date <= D2)
    day = trading_days(REFERENCE_DAY - timedelta(days=6), REFERENCE_DAY)[-1]
    assert before.bar(ticker, day, adjusted=False) == after_.bar(ticker, day, adjusted=False)
    assert after_.bar(ticker, day).c == pytest.approx(before.bar(ticker, day).c * ratio, rel=1e-3)
    assert after_.bar(ticker, day).v == pytest.approx(before.bar(ticker, day).v / ratio, rel=1e-3)
    traded_after = trading_days(when, D2)[0]
    assert after_.bar(ticker, traded_after) == after_.bar(ticker, traded_after, adjusted=False)
    assert after_.shares_outstanding(ticker, traded_after) == pytest.approx(
        before.shares_outstanding(ticker, day) / ratio, rel=1e-6)


def test_the_reference_day_is_the_default(markets):
    assert SyntheticMarket(size=SIZE, delisted=DELISTED).as_of == REFERENCE_DAY
    default = markets[REFERENCE_DAY]
    assert len(default.active_tickers) == SIZE
    assert len({t for t in default.tickers if default.company(t).delisted}) == DELISTED


def test_a_company_that_changes_its_ticker_is_listed_under_the_new_one_with_its_whole_history():
    options = dict(size=300, delisted=10, turnover=30.0)
    later = SyntheticMarket(as_of=D2, **options)
    old, new = next(iter(later.renamed.items()))
    day = later.company(new).change_date
    before = SyntheticMarket(as_of=trading_days(day - timedelta(days=7), day)[-2], **options)
    assert old in before.tickers and new not in before.tickers
    assert new in later.tickers and old not in later.tickers and later.company(old) is None
    assert later.events(new) == [(day, new), (before.company(old).list_date, old)]
    first, last = before.price_window(old)
    assert before.render_bars(old, *before.bar_window(old, first, last), adjusted=False) == \
        later.render_bars(new, *later.bar_window(new, first, last), adjusted=False)
    assert any(new in later.related(t) for t in later.tickers[:300])
