"""``-a shard=K/N``: the K-th of N stable, disjoint parts of the universe, so that N machines or
N API keys share one download (README, "Scaling out").

A ticker's part depends on its symbol alone (CRC-32 of the symbol, modulo N), never on the
universe's order or size, nor on the process: Python's ``hash()`` of a string changes from one
process to the next, so it must not be used here.
"""

import zlib
from collections.abc import Iterable
from dataclasses import dataclass


def shard_number(ticker: str, count: int) -> int:
    """The part (1 to ``count``) ``ticker`` belongs to."""
    return zlib.crc32(ticker.encode("utf-8")) % count + 1


@dataclass(frozen=True)
class Shard:
    number: int
    """K: which part, 1 to ``count``."""
    count: int
    """N: how many parts."""

    def __post_init__(self):
        if not 1 <= self.number <= self.count:
            raise ValueError(f"a shard is K/N with 1 <= K <= N, not {self.number}/{self.count}")

    def __str__(self):
        return f"{self.number}/{self.count}"

    def holds(self, ticker: str) -> bool:
        return shard_number(ticker, self.count) == self.number

    def select(self, tickers: Iterable[str]) -> list:
        """The tickers of this part, in their given order."""
        return [ticker for ticker in tickers if self.holds(ticker)]
