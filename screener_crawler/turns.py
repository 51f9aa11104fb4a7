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
