"""How the ratio pipeline sends what it makes due.

When the grouped daily prices make every ticker due at once, the ratio pipeline starts their
item pipelines a slice per reactor turn, so that the reactor serves the network between slices,
and does not wait for one to finish before starting the next."""

import asyncio

import pytest
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.test import get_crawler

from screener_crawler.items import RatiosDue, UnitWritten
from screener_crawler.pipelines.financial_ratios import (
    FinancialRatiosPipeline,
    start_in_slices,
)


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


class Spider:
    datasets = ("income_statements", "financial_ratios")

    def __init__(self):
        self.pending = {"income_statements": {"AAA"}, "financial_ratios": {"AAA"}}


def test_a_written_input_goes_on_without_waiting_for_the_ratios_it_makes_due(tmp_path):
    """The written statements unit reaches the ledger (and frees its response) while its
    ticker's ratios are still being computed; the crawl is kept open until they are through."""
    crawler = get_crawler(settings_dict={"SCREENER_DATA_DIR": str(tmp_path), "SCREENER_WORKER_PROCESSES": 0})
    crawler.spider = Spider()
    pipeline = FinancialRatiosPipeline.from_crawler(crawler)
    sent = []

    async def scenario():
        ratios_through = asyncio.get_running_loop().create_future()

        async def send(items):
            sent.extend(items)
            await ratios_through

        pipeline._send = send
        written = UnitWritten("income_statements", "AAA", rows=4, duplicates=0, files=2)
        passed = await asyncio.wait_for(pipeline.process_item(written), timeout=5)
        with pytest.raises(DontCloseSpider):
            pipeline._keep_open_while_sending()
        ratios_through.set_result(None)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        pipeline._keep_open_while_sending()
        return passed

    assert asyncio.run(scenario()) == UnitWritten("income_statements", "AAA", rows=4, duplicates=0, files=2)
    assert sent == [RatiosDue("AAA")]
