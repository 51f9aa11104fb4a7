"""``-a update=1``: a full crawl as of a day, then an update as of five trading days later,
ends with the data of a full crawl as of that later day, in a few requests."""

import shutil
import signal
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from screener_crawler.sandbox import SandboxProcess
from screener_crawler.sandbox.market import REFERENCE_DAY, SyntheticMarket
from screener_crawler.datasets import TICKER_DATASETS
from screener_crawler.trading_calendar import trading_days
from tests.crawl import comparable_rows, ledger, run_crawl, sandbox_env, snapshot, stat

KEY = "update-test-key"
BASIC_KEY = "update-test-basic-key"
MARKET = dict(universe_size=60, delisted=4, history_start="2025-06-01", turnover=20.0)
"""A small market whose listings, delistings and splits after the reference day come often
enough that a week holds one of each."""
SETTINGS = {"POLYGON_RATE_LIMIT": 0, "PRICES_START": "2026-06-01", "SCREENER_PROGRESS_INTERVAL": 1}
UPDATE_DAYS = 5


def sessions_after(day, count):
    return trading_days(day + timedelta(days=1), day + timedelta(days=3 * count + 10))[:count]


def eventful_week():
    """The first (D, D + 5 sessions) after the reference day in which the market lists a
    company, delists one, splits one, pays a dividend and renames one: found in the market as of
    a later day, which shows every earlier day as the market as of that day does."""
    market = SyntheticMarket(size=MARKET["universe_size"], delisted=MARKET["delisted"], turnover=MARKET["turnover"],
                             history_start=date.fromisoformat(MARKET["history_start"]),
                             as_of=REFERENCE_DAY + timedelta(days=700))
    companies = [market.company(t) for t in market.tickers]
    day = sessions_after(REFERENCE_DAY, 1)[0]
    while day < market.as_of - timedelta(days=30):
        later = sessions_after(day, UPDATE_DAYS)[-1]
        within = lambda when: when is not None and day < when <= later  # noqa: E731
        listed = {c.ticker for c in companies if within(c.list_date)}
        delisted = {c.ticker for c in companies if within(c.delisted)}
        split = {c.ticker for c in companies for s in market.splits(c.ticker) if within(s.execution_date)}
        paid = {c.ticker for c in companies for d in market.dividends(c.ticker) if within(d.ex_dividend_date)}
        renamed = {c.key: c.ticker for c in companies if c.key != c.ticker and within(c.change_date)}
        if listed and delisted and split and paid and renamed:
            return day, later, listed, delisted, split, renamed
        day = later
    raise AssertionError("no week after the reference day has a listing, a delisting, a split, a dividend and a "
                         "ticker change")


@pytest.fixture(scope="module")
def week():
    return eventful_week()


def partition_files(root):
    """Partition file -> (modification time, its rows without download stamps)."""
    return {path.relative_to(root): (path.stat().st_mtime_ns, comparable_rows(pq.read_table(path)))
            for path in sorted(Path(root).rglob("*.parquet"))}


def crawl(sandbox, data_dir, *arguments, key=KEY):
    result = run_crawl("screener", *arguments, env=sandbox_env(sandbox, data_dir, key), settings=SETTINGS,
                       timeout=600)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-4000:]
    assert result.stats["finish_reason"] == "finished", result.stderr[-4000:]
    return result


def sandbox_as_of(day):
    return SandboxProcess(keys=[KEY], basic_keys=[BASIC_KEY], as_of=day, **MARKET)


@pytest.fixture(scope="module")
def full_crawls(tmp_path_factory, week):
    """Key -> a full crawl as of the week's first day, and one as of its last (made when first asked)."""
    made = {}

    def of(key):
        if key not in made:
            roots = tmp_path_factory.mktemp("as-of-day"), tmp_path_factory.mktemp("as-of-later")
            with sandbox_as_of(week[0]) as sandbox:
                first = crawl(sandbox, roots[0], key=key)
            with sandbox_as_of(week[1]) as sandbox:
                crawl(sandbox, roots[1], key=key)
            made[key] = roots, first
        return made[key]
    return of


def compared(root):
    return snapshot(root, (*TICKER_DATASETS, "universe"))


@pytest.mark.parametrize("key", [KEY, BASIC_KEY], ids=["v1-plan", "basic-plan"])
def test_an_update_five_sessions_on_equals_a_full_crawl_as_of_that_day(tmp_path, week, full_crawls, key):
    day, later, listed, delisted, split, renamed = week
    (at_day, at_later), first = full_crawls(key)
    assert ledger(at_day)["watermarks"]["daily_prices"] == day.isoformat()
    shutil.copytree(at_day, tmp_path / "updated")
    before = partition_files(tmp_path / "updated")
    with sandbox_as_of(later) as sandbox:
        update = crawl(sandbox, tmp_path / "updated", ("update", "1"), key=key)
    updated, expected = compared(tmp_path / "updated"), compared(at_later)
    for dataset in expected:
        assert updated[dataset] == expected[dataset], dataset
    assert {row["ticker"] for row in expected["daily_prices"]} >= listed
    assert {row["ticker"] for row in expected["splits"]} >= split
    assert {row["ticker"] for row in expected["universe"] if not row["active"]} >= delisted
    assert {row["ticker"] for row in expected["daily_prices"]} >= set(renamed.values())
    assert not {row["ticker"] for row in updated["daily_prices"]} & set(renamed)
    assert stat(update, "downloader/request_count") < stat(first, "downloader/request_count") / 3
    assert stat(update, "update/tickers_with_new/dividends") and stat(update, "update/tickers_with_new/splits")
    assert stat(update, "ledger/done/ticker_events") == stat(update, "ledger/done/related_tickers") == \
        len(listed | delisted | set(renamed.values()))
    assert stat(update, "update/tickers_renamed") == len(renamed)
    after = partition_files(tmp_path / "updated")
    kept = [path for path in before if path in after and before[path][1] == after[path][1]]
    assert kept and len(kept) < len(before)
    assert [path for path in kept if before[path][0] != after[path][0]] == []
    watermarks = ledger(tmp_path / "updated")["watermarks"]
    assert watermarks["daily_prices"] == watermarks["income_statements"] == watermarks["dividends"] == \
        later.isoformat()


@pytest.mark.parametrize("after_partitions", [0, 30])
def test_an_update_killed_in_a_publish_then_run_again_equals_a_full_crawl(tmp_path, week, full_crawls,
                                                                          after_partitions):
    later = week[1]
    (at_day, at_later), _ = full_crawls(KEY)
    shutil.copytree(at_day, tmp_path / "updated")
    with sandbox_as_of(later) as sandbox:
        killed = run_crawl("screener", ("update", "1"), env={**sandbox_env(sandbox, tmp_path / "updated", KEY),
                                                           "KILL_AFTER_PARTITIONS": str(after_partitions)},
                           settings=SETTINGS, module="tests.kill_in_publish")
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        assert ledger(tmp_path / "updated")["watermarks"]["daily_prices"] == week[0].isoformat()
        crawl(sandbox, tmp_path / "updated", ("update", "1"))
    assert compared(tmp_path / "updated") == compared(at_later)
    assert not list((tmp_path / "updated").rglob(".*.tmp"))


def test_every_family_spider_takes_update_and_brings_its_datasets_up_to_date(tmp_path, week, full_crawls):
    later = week[1]
    (at_day, at_later), _ = full_crawls(KEY)
    shutil.copytree(at_day, tmp_path / "updated")
    with sandbox_as_of(later) as sandbox:
        for spider in ("prices", "fundamentals", "corporate_actions", "related_tickers"):
            result = run_crawl(spider, ("update", "1"), env=sandbox_env(sandbox, tmp_path / "updated", KEY),
                               settings=SETTINGS, timeout=600)
            assert result.returncode == 0 and result.stats["finish_reason"] == "finished", result.stderr[-3000:]
    watermarks = ledger(tmp_path / "updated")["watermarks"]
    updated, expected = compared(tmp_path / "updated"), compared(at_later)
    for dataset in ("daily_prices", "balance_sheets", "income_statements", "cash_flow", "dividends", "splits",
                    "ticker_events", "related_tickers"):
        assert watermarks[dataset] == later.isoformat(), dataset
        assert updated[dataset] == expected[dataset], dataset
