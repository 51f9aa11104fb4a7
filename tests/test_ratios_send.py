"""When the grouped daily prices make every ticker due at once, the ratio pipeline starts their
item pipelines a slice per reactor turn, so that the reactor serves the network between slices,
and does not wait for one to finish before starting the next."""

import asyncio

from screener_crawler.pipelines.financial_ratios import start_in_slices


def test_many_starts_are_spread_over_turns_without_waiting_for_each_other():
    turns, started_after_turns = 0, []

    async def scenario():
        finish = asyncio.get_running_loop().create_future()

        async def run(index):
            await finish
            return index

        def start(index):
            def begin():
                started_after_turns.append(turns)
                return run(index)
            return begin

        async def next_turn():
            nonlocal turns
            turns += 1
            await asyncio.sleep(0)

        runs = await start_in_slices([start(i) for i in range(600)], 256, next_turn)
        pending = [not run.called for run in runs]
        finish.set_result(None)
        results = [await run.asFuture(asyncio.get_running_loop()) for run in runs]
        return pending, results

    pending, results = asyncio.run(scenario())
    assert started_after_turns == [index // 256 for index in range(600)]
    assert all(pending)
    assert results == list(range(600))
