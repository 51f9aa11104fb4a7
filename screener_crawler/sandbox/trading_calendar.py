"""US equity trading calendar and fiscal-period arithmetic for the synthetic market."""

import calendar as _calendar
from datetime import date, datetime, timedelta, timezone
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


def _nth_weekday(year, month, weekday, n):
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year, month, weekday):
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
        _nth_weekday(year, 1, 0, 3),
        _nth_weekday(year, 2, 0, 3),
        _easter(year) - timedelta(days=2),
        _last_weekday(year, 5, 0),
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),
        _nth_weekday(year, 11, 3, 4),
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


def _us_eastern_offset_hours(day):
    """UTC offset of US/Eastern at midnight of ``day`` (DST rules since 2007)."""
    dst_start = _nth_weekday(day.year, 3, 6, 2)
    dst_end = _nth_weekday(day.year, 11, 6, 1)
    return 4 if dst_start <= day < dst_end else 5


_EPOCH = date(1970, 1, 1)


def eastern_midnight_ms(day):
    """Unix milliseconds of US/Eastern midnight starting ``day`` (the vendor's daily-bar ``t``)."""
    return ((day - _EPOCH).days * 86400 + _us_eastern_offset_hours(day) * 3600) * 1000


def eastern_close_ms(day):
    """Unix milliseconds of 16:00 US/Eastern on ``day`` (grouped bars carry the window end)."""
    return eastern_midnight_ms(day) + 16 * 3600 * 1000


def parse_day(text):
    """``YYYY-MM-DD`` or a millisecond timestamp, as a date; ValueError otherwise."""
    if text.isdigit() and len(text) > 8:
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc).date()
    return date.fromisoformat(text)


@lru_cache(maxsize=None)
def month_end(year, month, saturday):
    """Last day of a month, or its last Saturday for 52/53-week fiscal calendars."""
    if saturday:
        return _last_weekday(year, month, 5)
    return date(year, month, _calendar.monthrange(year, month)[1])
