"""The trading days: the NYSE's sessions (exchange-calendars' XNYS), so that the grouped daily
prices never ask for a closed day and never skip an open one, and a statement's
``available_date`` never falls on a market holiday."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from screener_crawler.ratios.compute import available_dates
from screener_crawler.trading_calendar import (
    first_trading_days_after,
    is_trading_day,
    next_trading_day,
    trading_days,
)

# NYSE full-day closures by its standing rules, as published by the exchange.
NYSE_HOLIDAYS_2021 = {date(2021, 1, 1), date(2021, 1, 18), date(2021, 2, 15), date(2021, 4, 2),
                      date(2021, 5, 31), date(2021, 7, 5), date(2021, 9, 6), date(2021, 11, 25),
                      date(2021, 12, 24)}
NYSE_HOLIDAYS_2022 = {date(2022, 1, 17), date(2022, 2, 21), date(2022, 4, 15), date(2022, 5, 30),
                      date(2022, 6, 20), date(2022, 7, 4), date(2022, 9, 5), date(2022, 11, 24),
                      date(2022, 12, 26)}
SPECIAL_CLOSURES = (date(2012, 10, 29), date(2012, 10, 30), date(2018, 12, 5), date(2025, 1, 9))
"""Weekdays the exchange closed outside its rules: Hurricane Sandy, and the national days of
mourning for George H. W. Bush and Jimmy Carter."""


def test_trading_days_are_the_weekdays_that_are_not_holidays():
    start, end = date(2021, 1, 1), date(2022, 12, 31)
    weekdays = {start + timedelta(days=n) for n in range((end - start).days + 1)
                if (start + timedelta(days=n)).weekday() < 5}
    days = trading_days(start, end)

    assert days == sorted(weekdays - NYSE_HOLIDAYS_2021 - NYSE_HOLIDAYS_2022)
    assert len(days) == 252 + 251


def test_new_year_on_a_saturday_does_not_close_the_friday_before():
    assert date(2021, 12, 31) in trading_days(date(2021, 12, 27), date(2022, 1, 7))


@pytest.mark.parametrize("closed", SPECIAL_CLOSURES, ids=str)
def test_the_special_closures_are_not_trading_days(closed):
    assert closed.weekday() < 5
    assert not is_trading_day(closed)
    assert closed not in trading_days(closed - timedelta(days=7), closed + timedelta(days=7))
    assert next_trading_day(closed) > closed and is_trading_day(next_trading_day(closed))


def test_next_trading_day_is_the_day_itself_when_the_market_trades():
    assert next_trading_day(date(2024, 11, 27)) == date(2024, 11, 27)
    assert next_trading_day(date(2024, 11, 28)) == date(2024, 11, 29)
    assert next_trading_day(date(2012, 10, 27)) == date(2012, 10, 31)


def test_a_filing_the_day_before_thanksgiving_becomes_available_the_day_after_it():
    filed = np.array(["2024-11-27", "2012-10-26", "2018-12-04", "2025-01-08", "2024-12-31", "NaT"],
                     dtype="datetime64[ns]")
    expected = np.array(["2024-11-29", "2012-10-31", "2018-12-06", "2025-01-10", "2025-01-02", "NaT"],
                        dtype="datetime64[D]")
    assert np.array_equal(first_trading_days_after(filed), expected, equal_nan=True)

    no_prices = pd.DataFrame({"ticker": [], "date": np.array([], dtype="datetime64[ns]"), "close": []})
    chosen, close = available_dates(pd.Series(["ZZZ"] * len(filed)), filed, no_prices)
    assert np.array_equal(chosen.astype("datetime64[D]"), expected, equal_nan=True)
    assert np.isnan(close).all()


def test_a_day_outside_the_calendar_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="outside the trading calendar"):
        is_trading_day(date(1960, 1, 4))
    with pytest.raises(ValueError, match="outside the trading calendar"):
        first_trading_days_after(np.array(["2050-01-03"], dtype="datetime64[ns]"))
