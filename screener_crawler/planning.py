"""What a crawl still has to do, from what is on disk: the universe table a recent crawl wrote,
and the ledger's units done and failed. The spiders ask; they read no file themselves."""

import logging
import time
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

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
    """The units of a crawl: per dataset, the tickers still to do (in the crawl's order)."""

    pending: dict[str, dict[str, None]] = field(default_factory=dict)
    """dataset -> tickers to do (an ordered dict used as a set)."""
    refetch: dict[str, set[str]] = field(default_factory=dict)
    """dataset -> tickers whose requests must bypass the duplicate filter (JOBDIR's memory of
    them is stale): their unit failed in an earlier crawl, or is due for a refresh."""
    watermarks: dict[str, date] = field(default_factory=dict)
    """dataset -> the market day the last crawl that completed it was current to."""
    refreshed: dict[str, int] = field(default_factory=dict)
    """dataset -> units done before that an update refreshes now (they are among ``pending``)."""

    def complete_tickers(self, tickers: list[str]) -> int:
        """How many of ``tickers`` have nothing left to do in any dataset."""
        return sum(1 for t in tickers if not any(t in pending for pending in self.pending.values()))


REFRESHED_ON_CADENCE = ("ticker_events", "related_tickers", "ticker_details")
"""Per-ticker datasets whose changes no market-wide listing reports: an update redoes a ticker's
unit once it is older than ``SCREENER_REFRESH_DAYS``, and at once when its universe rows changed."""
UNIVERSE_IDENTITY = ("name", "active", "cik", "composite_figi", "share_class_figi", "primary_exchange")
"""The universe columns whose change (a delisting, a new name or share class) makes an update
refresh the ticker's ``REFRESHED_ON_CADENCE`` units."""


def universe_identities(settings: BaseSettings) -> dict[str, set[tuple]]:
    """Ticker -> its rows' ``UNIVERSE_IDENTITY`` values in the universe table on disk ({} when
    there is none)."""
    path = partition_path(data_root(settings), DATASETS["universe"])
    if not path.exists():
        return {}
    identities = {}
    for row in pq.read_table(path, columns=["ticker", *UNIVERSE_IDENTITY]).to_pylist():
        identities.setdefault(row["ticker"], set()).add(tuple(row[column] for column in UNIVERSE_IDENTITY))
    return identities


def renames_between(before: dict[str, set[tuple]], now: dict[str, set[tuple]]) -> dict[str, str]:
    """Old ticker -> new, for each ticker of ``before`` (identities as ``universe_identities``
    gives them) no longer listed ``now`` whose composite FIGI one ticker new in ``now`` holds."""
    figi = UNIVERSE_IDENTITY.index("composite_figi")
    new_by_figi = {}
    for ticker in now.keys() - before.keys():
        for identity in now[ticker]:
            if identity[figi]:
                new_by_figi.setdefault(identity[figi], set()).add(ticker)
    renames = {}
    for ticker in before.keys() - now.keys():
        holders = {new for identity in before[ticker] for new in new_by_figi.get(identity[figi], ())}
        if len(holders) == 1:
            renames[ticker] = holders.pop()
    return renames


def plan_units(settings: BaseSettings, datasets: tuple[str, ...], tickers: list[str], force: bool,
               refill: set[str], update: bool = False, changed: set[str] = frozenset()) -> UnitPlan:
    """Every unit (dataset, ticker) the ledger does not list as done, all of them with ``force``,
    and those of ``refill`` whatever the ledger says; with ``update``, also the units of
    ``REFRESHED_ON_CADENCE`` due for a refresh (``refresh_due``) or of the ``changed`` tickers."""
    ledger = Ledger.load(progress_file(settings))
    plan = UnitPlan()
    now = datetime.now(timezone.utc)
    refresh_days = settings.getfloat("SCREENER_REFRESH_DAYS")
    for dataset in datasets:
        due = set()
        if update and dataset in REFRESHED_ON_CADENCE:
            due = {t for t in tickers if t in changed or refresh_due(ledger.done_at(dataset, t), t, now, refresh_days)}
            plan.refreshed[dataset] = len(due)
        plan.pending[dataset] = dict.fromkeys(
            t for t in tickers if force or t in refill or t in due or not ledger.is_done(dataset, t))
        plan.refetch[dataset] = set(ledger.failures(dataset)) | due
        if (watermark := ledger.watermark(dataset)) is not None:
            plan.watermarks[dataset] = watermark
    return plan


def refresh_due(done_at: datetime | None, ticker: str, now: datetime, days: float) -> bool:
    """Whether a unit done at ``done_at`` is due for a refresh: older than a share of ``days``
    that is the ticker's own, between half and all of it, so that units all done by one crawl
    come due over several runs rather than in one."""
    if done_at is None or days <= 0:
        return False
    share = 0.5 + 0.5 * (zlib.crc32(ticker.encode()) % 1000) / 1000
    return now - done_at >= timedelta(days=days * share)
