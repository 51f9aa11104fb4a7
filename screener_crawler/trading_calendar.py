"""The US equity market's trading days: the sessions of the New York Stock Exchange as
exchange-calendars keeps them (``XNYS``): its standing holidays with their observed dates, and
the closures outside the rules (2001-09-11 to 14, 2012-10-29 and 30 for Hurricane Sandy, the
national days of mourning of 2004-06-11, 2007-01-02, 2018-12-05 and 2025-01-09).

"Next trading day" means the same thing everywhere: the grouped daily prices ask for these days
only, the sandbox has bars on these days only, and a statement's ``available_date`` falls back
to the first of these days after its filing date (``first_trading_days_after``). A crawl's
"today" is the last of these days whose session is over at the API server's time
(``last_complete_trading_day``), never the local clock's date.
"""

import warnings
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

EXCHANGE = "XNYS"
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2040, 12, 31)
"""The days the calendar answers for; a day outside them is an error, not a guess."""
EXCHANGE_TIME_ZONE = ZoneInfo("America/New_York")
SESSION_FINAL = time(20, 0)
"""When a trading day's bars are final: the end of its after-hours session, US/Eastern."""


@lru_cache(maxsize=1)
def _calendar() -> tuple[frozenset, np.busdaycalendar]:
    """(session days as ordinals, a numpy business-day calendar of the sessions); built on
    first use (importing exchange-calendars takes most of a second)."""
    import exchange_calendars

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library's own uses of pandas APIs that pandas deprecates
        sessions = exchange_calendars.get_calendar(EXCHANGE, start=FIRST_DAY.isoformat(),
                                                   end=LAST_DAY.isoformat()).sessions
    days = sessions.to_numpy().astype("datetime64[D]")
    weekdays = np.arange(np.datetime64(FIRST_DAY), np.datetime64(LAST_DAY) + 1)
    weekdays = weekdays[np.is_busday(weekdays)]
    closed = np.setdiff1d(weekdays, days)
    return frozenset(day.toordinal() for day in days.astype(date)), np.busdaycalendar(holidays=closed)


def _check(day: date) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{day} is outside the trading calendar ({FIRST_DAY} to {LAST_DAY})")


def is_trading_day(day: date) -> bool:
    _check(day)
    return day.toordinal() in _calendar()[0]


def trading_days(start: date, end: date) -> list[date]:
    """Trading days in [start, end], ascending."""
    if end < start:
        return []
    _check(start)
    _check(end)
    sessions = _calendar()[0]
    return [start + timedelta(days=n) for n in range((end - start).days + 1)
            if start.toordinal() + n in sessions]


def next_trading_day(day: date) -> date:
    """``day`` if the market trades on it, else the first trading day after it."""
    _check(day)
    sessions = _calendar()[0]
    while day.toordinal() not in sessions:
        day += timedelta(days=1)
    return day


def previous_trading_day(day: date) -> date:
    """The last trading day before ``day``."""
    _check(day)
    sessions = _calendar()[0]
    day -= timedelta(days=1)
    while day.toordinal() not in sessions:
        day -= timedelta(days=1)
    return day


def last_complete_trading_day(moment: datetime) -> date:
    """The last trading day whose session is over at ``moment`` (an aware datetime, such as the
    API's server time): that day in New York when it trades and its after-hours session has
    ended (``SESSION_FINAL``), else the trading day before it."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment} has no time zone")
    local = moment.astimezone(EXCHANGE_TIME_ZONE)
    day = local.date()
    if is_trading_day(day) and local.time() >= SESSION_FINAL:
        return day
    return previous_trading_day(day)


def first_trading_days_after(days: np.ndarray) -> np.ndarray:
    """For each of ``days`` (``datetime64``; NaT stays NaT), the first trading day after it, as
    ``datetime64[D]``."""
    days = np.asarray(days).astype("datetime64[D]")
    known = ~np.isnat(days)
    if known.any():
        _check(days[known].min().astype(date))
        _check((days[known].max() + 1).astype(date))
    after = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    after[known] = np.busday_offset(days[known] + 1, 0, roll="forward", busdaycal=_calendar()[1])
    return after
