"""The ``-a`` arguments every spider takes, checked before anything starts: each bad value is
one ``SpiderArgumentError`` line that says what would be accepted (``scrapy crawl`` prints it and
exits 2)."""

import re
from typing import NamedTuple

from screener_crawler.polygon.endpoints import TICKER_PATTERN
from screener_crawler.sharding import Shard

SHARD_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class SpiderArgumentError(ValueError):
    pass


class SpiderArguments(NamedTuple):
    tickers: list | None
    datasets: tuple
    force: bool
    refill: set
    shard: Shard | None
    update: bool


def check_update(arguments: SpiderArguments) -> SpiderArguments:
    """``-a update=1`` brings the whole universe's data up to date: not with a ticker list, a
    shard or ``force``."""
    if arguments.update:
        clashing = [name for name, given in (("tickers=", arguments.tickers is not None),
                                             ("shard=", arguments.shard is not None),
                                             ("force=1", arguments.force)) if given]
        if clashing:
            raise SpiderArgumentError(
                f"-a update=1 brings the whole universe up to date; it does not take -a {', -a '.join(clashing)}")
    return arguments


def parse_tickers(argument, name="tickers"):
    """``-a tickers=AAPL,MSFT`` as a list, in the user's order, without repeats."""
    if argument is None:
        return None
    tickers = [t.strip().upper() for t in str(argument).split(",") if t.strip()]
    if not tickers:
        raise SpiderArgumentError(f"-a {name}= is empty; give symbols like -a {name}=AAPL,MSFT")
    bad = [t for t in tickers if not TICKER_PATTERN.match(t)]
    if bad:
        raise SpiderArgumentError(
            f"not a ticker symbol: {', '.join(repr(t) for t in bad[:5])} "
            "(expected letters and digits with an optional class suffix, like BRK.B)"
        )
    return list(dict.fromkeys(tickers))


def parse_datasets(argument, offered, default=None):
    """``-a datasets=dividends,splits`` within the datasets this spider offers; ``default`` (all
    it offers when None) without the argument."""
    if argument is None:
        return tuple(offered if default is None else default)
    wanted = [d.strip() for d in str(argument).split(",") if d.strip()]
    unknown = [d for d in wanted if d not in offered]
    if unknown or not wanted:
        raise SpiderArgumentError(
            f"unknown dataset {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"this spider offers: {', '.join(offered)}"
        )
    return tuple(dict.fromkeys(wanted))


def parse_shard(argument):
    """``-a shard=K/N`` as a ``Shard``; None when not given."""
    if argument is None:
        return None
    match = SHARD_PATTERN.match(str(argument))
    try:
        return Shard(int(match[1]), int(match[2]))
    except (TypeError, ValueError):
        raise SpiderArgumentError(
            f"-a shard= takes K/N, the K-th of N parts with 1 <= K <= N (like 2/4), not {argument!r}") from None


def parse_flag(argument, name):
    if argument is None:
        return False
    value = str(argument).strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no", ""):
        return False
    raise SpiderArgumentError(f"-a {name}= takes 1 or 0, not {argument!r}")
