"""The US equity market's trading days: weekdays other than the NYSE's full-day holidays.

The holidays are the exchange's standing rules (observed dates; Juneteenth from 2022), so every
day listed is one the market was closed. Closures outside the rules (2012-10-29/30, national days
of mourning) are kept as trading days: asking for them costs a request that returns no bars,
where skipping a real trading day would lose its prices.
"""

import calendar as _calendar
from datetime import date, timedelta
from functools import lru_cache


def _easter(year):
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    day = (h + l - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def nth_weekday(year, month, weekday, n):
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def last_weekday(year, month, weekday):
    last = date(year, month, _calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day):
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


@lru_cache(maxsize=None)
def holidays(year):
    """The main NYSE full-day holidays of ``year`` (observed dates)."""
    days = {
        _observed(date(year, 1, 1)),
        nth_weekday(year, 1, 0, 3),
        nth_weekday(year, 2, 0, 3),
        _easter(year) - timedelta(days=2),
        last_weekday(year, 5, 0),
        _observed(date(year, 7, 4)),
        nth_weekday(year, 9, 0, 1),
        nth_weekday(year, 11, 3, 4),
        _observed(date(year, 12, 25)),
    }
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))
    return frozenset(d for d in days if d.year == year)


def is_trading_day(day):
    return day.weekday() < 5 and day not in holidays(day.year)


def trading_days(start, end):
    """Trading days in [start, end], ascending."""
    day, out = start, []
    while day <= end:
        if is_trading_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def next_trading_day(day):
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day
