"""What a crawl still has to do, from the universe table and the ledger on disk."""

import os
import time

import pyarrow as pa
import pyarrow.parquet as pq
from scrapy.settings import Settings

from screener_crawler.ledger import Ledger
from screener_crawler.planning import UNIVERSE_IDENTITY, plan_units, renames_between, universe_on_disk


def settings_for(root, max_age_hours=24):
    return Settings({"SCREENER_DATA_DIR": str(root), "SCREENER_PROGRESS_FILE": str(root / "progress.json"),
                     "SCREENER_UNIVERSE_MAX_AGE": max_age_hours})


def write_universe(root, tickers):
    path = root / "universe" / "universe.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"ticker": tickers}), path)
    return path


def test_a_recent_universe_on_disk_gives_each_ticker_once_in_its_order(tmp_path):
    write_universe(tmp_path, ["MSFT", "AAPL", "OLD", "AAPL"])
    assert universe_on_disk(settings_for(tmp_path)) == ["MSFT", "AAPL", "OLD"]


def test_no_universe_or_an_old_one_means_listing_it_again(tmp_path):
    assert universe_on_disk(settings_for(tmp_path)) is None
    path = write_universe(tmp_path, ["AAPL"])
    two_days_ago = time.time() - 48 * 3600
    os.utime(path, (two_days_ago, two_days_ago))
    assert universe_on_disk(settings_for(tmp_path, max_age_hours=24)) is None
    assert universe_on_disk(settings_for(tmp_path, max_age_hours=72)) == ["AAPL"]


def test_units_the_ledger_has_done_are_left_out_unless_forced_or_refilled(tmp_path):
    ledger = Ledger.load(tmp_path / "progress.json")
    ledger.mark_done("dividends", "AAPL", 3)
    ledger.mark_done("splits", "AAPL", 0)
    ledger.mark_failed("dividends", "MSFT", "HTTP 503")
    ledger.save()
    tickers = ["AAPL", "MSFT", "NVDA"]
    plan = plan_units(settings_for(tmp_path), ("dividends", "splits"), tickers, force=False, refill=set())
    assert {dataset: list(pending) for dataset, pending in plan.pending.items()} == {
        "dividends": ["MSFT", "NVDA"], "splits": ["MSFT", "NVDA"]}
    assert plan.refetch == {"dividends": {"MSFT"}, "splits": set()}
    assert plan.complete_tickers(tickers) == 1
    refilled = plan_units(settings_for(tmp_path), ("dividends",), tickers, force=False, refill={"AAPL"})
    assert list(refilled.pending["dividends"]) == tickers
    forced = plan_units(settings_for(tmp_path), ("splits",), tickers, force=True, refill=set())
    assert list(forced.pending["splits"]) == tickers and forced.complete_tickers(tickers) == 0


def identity(name, figi, active=True):
    """A universe row's ``UNIVERSE_IDENTITY`` values."""
    values = {"name": name, "active": active, "cik": "0000000001", "composite_figi": figi,
              "share_class_figi": None, "primary_exchange": "XNAS"}
    return tuple(values[column] for column in UNIVERSE_IDENTITY)


def test_a_ticker_gone_from_the_universe_whose_figi_a_new_ticker_holds_is_renamed():
    before = {"FB": {identity("Meta", "BBG000MM2P62")}, "GONE": {identity("Gone", "BBG000GONE01")},
              "TWIN": {identity("Twin", "BBG000TWIN01")}, "AAPL": {identity("Apple", "BBG000B9XRY4")}}
    now = {"META": {identity("Meta", "BBG000MM2P62")}, "AAPL": {identity("Apple", "BBG000B9XRY4")},
           "TWA": {identity("Twin A", "BBG000TWIN01")}, "TWB": {identity("Twin B", "BBG000TWIN01")},
           "NEW": {identity("New", None)}}
    assert renames_between(before, now) == {"FB": "META"}
