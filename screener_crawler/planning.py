"""What a crawl still has to do, from what is on disk: the universe table a recent crawl wrote,
and the ledger's units done and failed. The spiders ask; they read no file themselves."""

import logging
import time
from dataclasses import dataclass, field

import pyarrow.parquet as pq
from scrapy.settings import BaseSettings

from screener_crawler.connection import data_root, progress_file
from screener_crawler.datasets import DATASETS
from screener_crawler.ledger import Ledger
from screener_crawler.storage.layout import partition_path

logger = logging.getLogger(__name__)


def universe_on_disk(settings: BaseSettings) -> list[str] | None:
    """The tickers of the universe table on disk, each once, when it is younger than
    ``SCREENER_UNIVERSE_MAX_AGE`` hours; None when there is none or it is older (the crawl then
    lists the universe first)."""
    path = partition_path(data_root(settings), DATASETS["universe"])
    max_age = settings.getfloat("SCREENER_UNIVERSE_MAX_AGE") * 3600
    if not path.exists() or time.time() - path.stat().st_mtime > max_age:
        return None
    tickers = list(dict.fromkeys(pq.read_table(path, columns=["ticker"]).column("ticker").to_pylist()))
    logger.info("Using the universe on disk: %d tickers (%s)", len(tickers), path)
    return tickers


@dataclass
class UnitPlan:
    """The units of a crawl: per dataset, the tickers still to do (in the crawl's order) and
    those whose unit failed in an earlier crawl."""

    pending: dict[str, dict[str, None]] = field(default_factory=dict)
    """dataset -> tickers to do (an ordered dict used as a set)."""
    failed_before: dict[str, set[str]] = field(default_factory=dict)

    def complete_tickers(self, tickers: list[str]) -> int:
        """How many of ``tickers`` have nothing left to do in any dataset."""
        return sum(1 for t in tickers if not any(t in pending for pending in self.pending.values()))


def plan_units(settings: BaseSettings, datasets: tuple[str, ...], tickers: list[str], force: bool,
               refill: set[str]) -> UnitPlan:
    """Every unit (dataset, ticker) the ledger does not list as done, all of them with ``force``,
    and those of ``refill`` whatever the ledger says."""
    ledger = Ledger.load(progress_file(settings))
    plan = UnitPlan()
    for dataset in datasets:
        plan.pending[dataset] = dict.fromkeys(
            t for t in tickers if force or t in refill or not ledger.is_done(dataset, t))
        plan.failed_before[dataset] = set(ledger.failures(dataset))
    return plan
