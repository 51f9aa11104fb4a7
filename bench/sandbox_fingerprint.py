"""Hashes of what the sandbox's synthetic market generates as of a day, part by part, to show
that a change of the sandbox's code leaves its answers as they were (run it before and after,
and compare; ``git stash`` between the two runs).

    python bench/sandbox_fingerprint.py [--as-of 2025-11-21]

Parts: the tickers, every company's profile, the delisted listing; for ~400 tickers (a sample,
every ticker with a split, AAPL and MSFT): periods, statements, dividends, splits, daily bars
adjusted and as traded, related tickers, ticker events, shares outstanding; grouped bars of four
days. Printed for the full universe (10,070 + 1,000 delisted) and for two small markets (with and
without ``history_start``).
"""

import argparse
import hashlib
import random
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler.sandbox.market import DEFAULT_AS_OF, SyntheticMarket  # noqa: E402


def fingerprint(as_of, size, delisted, sample, history_start=None):
    """Part -> hash, and the hash of them all."""
    market = SyntheticMarket(size=size, delisted=delisted, as_of=as_of, history_start=history_start)
    parts, whole = {}, hashlib.sha256()

    def add(name, value):
        text = repr(value).encode()
        whole.update(name.encode() + text)
        parts.setdefault(name, hashlib.sha256()).update(text)

    listed = list(market.tickers)
    add("tickers", listed)
    for ticker in listed:
        c = market.company(ticker)
        add("companies", (ticker, c.name, c.cik, c.list_date, c.delisted, tuple(s for s in c.splits if s[0] <= as_of),
                          c.former_ticker, c.change_date, c.active))
    add("delisted listing", [(c.ticker, c.cik, c.delisted, c.last_updated, c.list_date)
                             for c in market.delisted_listings()])
    split = [t for t in listed if any(s[0] <= as_of for s in market.company(t).splits)]
    chosen = sorted(set(random.Random(1).sample(listed, min(sample, len(listed))) + split[:60]
                        + [t for t in ("AAPL", "MSFT") if t in market.index]))
    for ticker in chosen:
        add("periods", market.periods(ticker))
        add("statements", market.statements(ticker))
        add("dividends", market.dividends(ticker))
        add("splits", market.splits(ticker))
        first, last = market.price_window(ticker)
        window = market.bar_window(ticker, first, last)
        add("bars", market.render_bars(ticker, *window))
        add("bars as traded", market.render_bars(ticker, *window, adjusted=False))
        add("related", market.related(ticker))
        add("events", market.events(ticker))
        add("shares outstanding", market.shares_outstanding(ticker, date(2020, 1, 3)))
    for day in (date(2009, 3, 2), date(2020, 8, 31), date(2025, 10, 1), min(as_of, DEFAULT_AS_OF)):
        add("grouped", market.render_grouped(day))
        add("grouped as traded", market.render_grouped(day, adjusted=False))
    return {name: digest.hexdigest()[:12] for name, digest in parts.items()}, whole.hexdigest()[:16]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF)
    args = parser.parse_args()
    for name, options in (("universe", dict(size=10070, delisted=1000, sample=300)),
                          ("small", dict(size=30, delisted=6, sample=30)),
                          ("small, history from 2022", dict(size=30, delisted=6, sample=30,
                                                            history_start=date(2022, 1, 1)))):
        parts, whole = fingerprint(args.as_of, **options)
        print(f"{name}: {whole}")
        for part, digest in parts.items():
            print(f"  {part:<20} {digest}")


if __name__ == "__main__":
    main()
