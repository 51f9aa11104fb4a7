from collections import deque
from datetime import date, timedelta

from screener_crawler.items import PartitionComplete, PartitionFailed, UnitFailed, UpsertComplete
from screener_crawler.polygon.endpoints import ENDPOINTS
from screener_crawler.polygon.pages import PAGE_READER, PageReader
from screener_crawler.polygon.page_tables import daily_bars_page, grouped_daily_page
from screener_crawler.polygon.parsers import daily_bars_page_columns, grouped_daily_page_columns
from screener_crawler.spiders.base import PolygonSpider, failure_reason
from screener_crawler.spiders.update import upserted
from screener_crawler.trading_calendar import trading_days


class PricesFamily:
    """Daily bars, as traded (``adjusted=false``: the same basis as the as-reported share
    counts the valuation ratios pair them with), from ``PRICES_START`` to ``PRICES_END`` or,
    when it is empty, the market's today (the last trading day complete at the server's time).

    Two ways, whichever needs fewer requests (``PRICES_SOURCE`` = auto), or as set:
    ``per_ticker``, one listing per ticker; ``grouped``, the grouped daily endpoint, one request
    per trading day for the whole market. Grouped days are listed in ``PRICES_GROUPED_LANES`` lanes,
    each requesting one day at a time from a queue of days in date order; each month is staged
    as it completes, and the tickers' units are done once every month is written.
    """

    datasets = ("daily_prices",)
    updated_datasets = ("daily_prices",)
    grouped_days: "GroupedDays | None" = None
    """The days this crawl lists market-wide, when it does."""

    def needs_market_today(self) -> bool:
        """Whether the prices end at the market's today: ``PRICES_END`` is empty."""
        return not self.settings.get("PRICES_END")

    def prices_end(self) -> date:
        """``PRICES_END``, or else the market's today, which ``start`` asked the server."""
        if self.settings.get("PRICES_END"):
            return date.fromisoformat(self.settings.get("PRICES_END"))
        if self.market_today is None:
            raise RuntimeError("PRICES_END is empty and the market's today was not asked")
        return self.market_today

    def requests(self, pending):
        tickers = pending["daily_prices"]
        start = date.fromisoformat(self.settings.get("PRICES_START"))
        end = self.prices_end()
        days = trading_days(start, end)
        source = self.settings.get("PRICES_SOURCE")
        if source == "grouped" or (source == "auto" and len(days) < len(tickers)):
            yield from self.grouped_daily_requests(tickers, days)
            return
        endpoint = ENDPOINTS["daily_bars"]
        params = {"adjusted": "false", "sort": "asc", "limit": self.page_size(endpoint)}
        for ticker in tickers:
            yield self.ticker_request(endpoint, "daily_prices", ticker, self.parse_read_page, params,
                                      PageReader(daily_bars_page_columns, (ticker,), daily_bars_page),
                                      start=start.isoformat(), end=end.isoformat())

    def update_requests(self, since):
        """``-a update=1``: the grouped daily bars of every trading day after the watermark, one
        day after the other, the universe's bars upserted by (ticker, date)."""
        days = tuple(trading_days(since["daily_prices"] + timedelta(days=1), self.prices_end()))
        if days:
            self.grouped_tickers = frozenset(self.tickers)
            self.unlisted_tickers = set()
            yield self.grouped_update_request(days)

    def grouped_update_request(self, days):
        return self.update_request(
            ENDPOINTS["grouped_daily"], "daily_prices", {"adjusted": "false"},
            callback=self.parse_grouped_update, path_args={"date": days[0].isoformat()},
            meta={"polygon_days": days, PAGE_READER: PageReader(
                grouped_daily_page_columns, (days[0].isoformat(), self.grouped_tickers), grouped_daily_page)})

    def parse_grouped_update(self, response):
        page = self.read_page(response)
        self.count_unlisted(page.unlisted_tickers)
        yield from upserted(page.batches)
        days = response.meta["polygon_days"]
        yield self.grouped_update_request(days[1:]) if len(days) > 1 else UpsertComplete("daily_prices")

    def grouped_daily_requests(self, tickers, days):
        """The first request of each of ``PRICES_GROUPED_LANES`` lanes. The lanes share one
        queue of days in date order (``GroupedDays``): all of them list the same month or two at
        a time, and only those months' bars are held until they complete."""
        self.grouped_tickers = frozenset(tickers)
        self.unlisted_tickers = set()
        self.grouped_days = GroupedDays(days)
        for _ in range(min(self.settings.getint("PRICES_GROUPED_LANES"), len(days))):
            yield from self.next_grouped_day()

    def next_grouped_day(self):
        """A lane's next request: the queue's next day, if any is left."""
        day = self.grouped_days.next_day() if self.grouped_days else None
        if day is not None:
            yield self.grouped_day_request(day)

    def grouped_day_request(self, day):
        """The grouped daily bars of ``day``. Its page, every ticker's bar of the day, is read
        by the page reader like a listing's. Lanes go before the per-ticker requests: every
        ticker's ratios wait for the last month."""
        return self.api_request(
            ENDPOINTS["grouped_daily"], {"adjusted": "false"}, path_args={"date": day.isoformat()},
            callback=self.parse_grouped_daily, errback=self.grouped_daily_failed, dont_filter=True, priority=1,
            meta={"polygon_day": day, "polygon_months_total": self.grouped_days.months_total,
                  PAGE_READER: PageReader(grouped_daily_page_columns, (day.isoformat(), self.grouped_tickers),
                                          grouped_daily_page, rows_by_ticker=False)},
        )

    def parse_grouped_daily(self, response):
        """The day's bars, held under its month; the month's ``PartitionComplete`` once its last
        day is in. A day this crawl does not list (a request a paused crawl left in JOBDIR for a
        month written since) passes nothing on."""
        page = self.read_page(response)
        day = response.meta["polygon_day"]
        if self.grouped_days and self.grouped_days.listing(day):
            self.count_unlisted(page.unlisted_tickers)
            partition = month_of(day)
            for batch in page.batches:
                batch.partition = partition
                yield batch
            if self.grouped_days.listed(day):
                yield PartitionComplete("daily_prices", partition, response.meta["polygon_months_total"])
        yield from self.next_grouped_day()

    def count_unlisted(self, tickers):
        """Tickers with grouped bars that are not in the universe (ETFs, warrants, other share
        types, or a gap in the universe listing) are left out of ``daily_prices``, counted in the
        stats (``daily_prices/tickers_not_in_universe``, ``scrapy status`` shows them), never
        dropped or added silently."""
        new = set(tickers) - self.unlisted_tickers
        if new:
            self.unlisted_tickers |= new
            stats = self.crawler.stats
            stats.set_value("daily_prices/tickers_not_in_universe", len(self.unlisted_tickers))
            stats.set_value("daily_prices/tickers_not_in_universe_sample", sorted(self.unlisted_tickers)[:UNLISTED_SAMPLE])

    def grouped_daily_failed(self, failure):
        """A day that fails for good fails its month, and with it every ticker's unit (a
        ticker's prices are done only when every month of the window is written); no more of
        that month's days are requested, and the lane goes on with the next day in the queue."""
        day = failure.request.meta["polygon_day"]
        if self.grouped_days and self.grouped_days.fail(day):
            reason = failure_reason(failure)
            yield PartitionFailed("daily_prices", month_of(day), reason)
            for ticker in sorted(self.grouped_tickers):
                yield UnitFailed("daily_prices", ticker, f"grouped daily {day}: {reason}")
        yield from self.next_grouped_day()


class GroupedDays:
    """The trading days of a grouped-daily listing, handed out in date order to whichever lane
    asks next. A month is complete once each of its days is listed; after a day of it fails,
    none of its days is handed out or completes it."""

    def __init__(self, days: list[date]):
        self._queue = deque(days)
        self._unlisted = {}
        for day in days:
            self._unlisted.setdefault(month_of(day), set()).add(day)
        self._failed = set()
        self.months_total = len(self._unlisted)

    def next_day(self) -> date | None:
        while self._queue:
            day = self._queue.popleft()
            if self.listing(day) and day in self._unlisted[month_of(day)]:
                return day
        return None

    def listing(self, day: date) -> bool:
        """Whether ``day``'s month is being listed: planned, and not failed."""
        return month_of(day) in self._unlisted and month_of(day) not in self._failed

    def listed(self, day: date) -> bool:
        """Count ``day`` listed; whether that completed its month (once per month)."""
        unlisted = self._unlisted.get(month_of(day))
        if not self.listing(day) or day not in unlisted:
            return False
        unlisted.discard(day)
        return not unlisted

    def fail(self, day: date) -> bool:
        """Count ``day``'s month failed; whether it was listing until now."""
        was_listing = self.listing(day)
        self._failed.add(month_of(day))
        return was_listing


UNLISTED_SAMPLE = 20
"""Tickers not in the universe named in the stats (the count covers them all)."""


def month_of(day):
    """The (year, month) partition of ``day``."""
    return day.year, day.month


class PricesSpider(PricesFamily, PolygonSpider):
    name = "prices"
    families = (PricesFamily,)
