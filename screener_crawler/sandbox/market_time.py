"""Time arithmetic of the synthetic market: vendor timestamps and fiscal-period ends."""

import calendar as _calendar
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache


def nth_weekday(year, month, weekday, n):
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def last_weekday(year, month, weekday):
    last = date(year, month, _calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _us_eastern_offset_hours(day):
    """UTC offset of US/Eastern at midnight of ``day`` (DST rules since 2007)."""
    dst_start = nth_weekday(day.year, 3, 6, 2)
    dst_end = nth_weekday(day.year, 11, 6, 1)
    return 4 if dst_start <= day < dst_end else 5


_EPOCH = date(1970, 1, 1)


def eastern_midnight_ms(day):
    """Unix milliseconds of US/Eastern midnight starting ``day`` (the vendor's daily-bar ``t``)."""
    return ((day - _EPOCH).days * 86400 + _us_eastern_offset_hours(day) * 3600) * 1000


def eastern_close_ms(day):
    """Unix milliseconds of 16:00 US/Eastern on ``day`` (grouped bars carry the window end)."""
    return eastern_midnight_ms(day) + 16 * 3600 * 1000


def eastern_time_text(day, hour, minute=0):
    """``hour:minute`` US/Eastern on ``day`` in RFC 3339 with its UTC offset, as the vendor's
    ``serverTime`` (``2025-11-21T20:30:00-05:00``); the offset is the day's after 02:00, when
    daylight saving time starts or ends."""
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00-{_us_eastern_offset_hours(day):02d}:00"


def parse_day(text):
    """``YYYY-MM-DD`` or a millisecond timestamp, as a date; ValueError otherwise."""
    if text.isdigit() and len(text) > 8:
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc).date()
    return date.fromisoformat(text)


@lru_cache(maxsize=None)
def month_end(year, month, saturday):
    """Last day of a month, or its last Saturday for 52/53-week fiscal calendars."""
    if saturday:
        return last_weekday(year, month, 5)
    return date(year, month, _calendar.monthrange(year, month)[1])


@lru_cache(maxsize=1)
def _federal_holidays():
    """Ordinals of the US federal holidays, 1990-2045 (pandas' calendar, observed dates)."""
    from pandas.tseries.holiday import USFederalHolidayCalendar

    days = USFederalHolidayCalendar().holidays(start="1990-01-01", end="2045-12-31")
    return frozenset(day.toordinal() for day in days.date)


def edgar_filing_day(day):
    """``day``, or the next day after it that EDGAR accepts filings on (a weekday that is not a
    US federal holiday)."""
    holidays = _federal_holidays()
    while day.weekday() >= 5 or day.toordinal() in holidays:
        day += timedelta(days=1)
    return day

