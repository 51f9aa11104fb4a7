"""The trading days the grouped daily prices ask for: weekdays less the NYSE's full-day holidays,
and never a day the exchange was open."""

from datetime import date, timedelta

from screener_crawler.trading_calendar import holidays, trading_days

# NYSE full-day closures by its standing rules, as published by the exchange.
NYSE_HOLIDAYS_2021 = {date(2021, 1, 1), date(2021, 1, 18), date(2021, 2, 15), date(2021, 4, 2),
                      date(2021, 5, 31), date(2021, 7, 5), date(2021, 9, 6), date(2021, 11, 25),
                      date(2021, 12, 24)}
NYSE_HOLIDAYS_2022 = {date(2022, 1, 17), date(2022, 2, 21), date(2022, 4, 15), date(2022, 5, 30),
                      date(2022, 6, 20), date(2022, 7, 4), date(2022, 9, 5), date(2022, 11, 24),
                      date(2022, 12, 26)}


def test_the_holidays_are_the_exchanges_including_observed_dates_and_juneteenth_from_2022():
    assert holidays(2021) == NYSE_HOLIDAYS_2021
    assert holidays(2022) == NYSE_HOLIDAYS_2022


def test_new_year_on_a_saturday_does_not_close_the_friday_before():
    assert date(2021, 12, 31) in trading_days(date(2021, 12, 27), date(2022, 1, 7))


def test_trading_days_are_the_weekdays_that_are_not_holidays():
    start, end = date(2021, 1, 1), date(2022, 12, 31)
    weekdays = {start + timedelta(days=n) for n in range((end - start).days + 1)
                if (start + timedelta(days=n)).weekday() < 5}
    days = trading_days(start, end)

    assert days == sorted(weekdays - NYSE_HOLIDAYS_2021 - NYSE_HOLIDAYS_2022)
    assert len(days) == 252 + 251
