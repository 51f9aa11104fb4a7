"""Giving the reactor a turn in the middle of long work on its thread, so that it handles the
network and its timers between slices of the work."""

from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred


async def next_reactor_turn():
    """Return after the reactor has handled what was ready (network, timers)."""
    turn = Deferred()
    call_later(0, turn.callback, None)
    await maybe_deferred_to_future(turn)


async def in_slices(items, size):
    """``items`` as an async iterator, with a reactor turn after every ``size`` of them."""
    for number, item in enumerate(items, 1):
        yield item
        if number % size == 0:
            await next_reactor_turn()
