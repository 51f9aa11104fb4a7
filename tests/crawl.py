"""Run a crawl the way a user does, ``scrapy crawl ...`` in a child process, and read back
what it wrote."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds

from screener_crawler.connection import CRAWL_STATS_FILE
from screener_crawler.datasets import TICKER_DATASETS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHORT_HISTORY = "2022-01-01"
"""The sandbox's ``history_start`` for crawls that need every dataset but not sixteen years of it:
each statement dataset then has about 45 monthly partitions instead of 200, so a crawl of a few
dozen tickers is not mostly publishing."""


def run_crawl(spider, *arguments, env=None, settings=None, timeout=300, module="scrapy"):
    """``python -m <module> crawl <spider> -a ... -s ...``; ``module`` may be a wrapper that
    patches something first and then runs Scrapy's command line. The result's ``stats`` are
    those the crawl wrote beside its ledger (``crawl_stats``), in the data root it was given."""
    command = [sys.executable, "-m", module, "crawl", spider]
    for name, value in (arguments or ()):
        command += ["-a", f"{name}={value}"]
    for name, value in (settings or {}).items():
        command += ["-s", f"{name}={value}"]
    child_env = {k: v for k, v in os.environ.items()
                 if k not in ("POLYGON_API_KEY", "POLYGON_BASE_URL", "SCREENER_DATA_DIR")}
    child_env.update(env or {})
    started = time.time()
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=child_env, capture_output=True,
                            text=True, timeout=timeout)
    ledger = (settings or {}).get("SCREENER_PROGRESS_FILE")
    folder = Path(ledger).parent if ledger else child_env.get("SCREENER_DATA_DIR")
    result.stats = crawl_stats(folder, since=started) if folder else {}
    return result


def crawl_stats(ledger_folder, since=None):
    """The stats a crawl wrote beside its ledger (``crawl_stats.json``): {} when there is none,
    or when it is older than ``since`` (a ``time.time()``), an earlier crawl's."""
    path = Path(ledger_folder) / CRAWL_STATS_FILE
    if not path.exists() or (since is not None and path.stat().st_mtime < since):
        return {}
    return json.loads(path.read_text())["stats"]


def read_dataset(root, name):
    """Rows of a dataset as pyarrow reads them with hive partitioning (None when absent)."""
    path = Path(root) / name
    if not path.exists():
        return None
    return ds.dataset(path, partitioning="hive").to_table()


def comparable_rows(table):
    """Rows without the download timestamp, sorted, for run-to-run comparison."""
    rows = [{k: v for k, v in row.items() if k != "downloaded_at"} for row in table.to_pylist()]
    return sorted(rows, key=repr)


def sandbox_env(sandbox, data_dir, key):
    """The environment of a crawl against ``sandbox`` with ``key``, writing under ``data_dir``."""
    return {"POLYGON_BASE_URL": sandbox.url, "POLYGON_API_KEY": key, "SCREENER_DATA_DIR": str(data_dir)}


def stat(result, name):
    """A stat of a ``run_crawl`` result, 0 when the crawl never set it."""
    return result.stats.get(name, 0)


def ledger(data_dir):
    """The ledger a crawl left in ``data_dir``."""
    return json.loads((Path(data_dir) / "download_progress.json").read_text())


def snapshot(data_dir, datasets=TICKER_DATASETS):
    """Dataset -> its comparable rows (``[]`` when absent): what two runs must end with alike."""
    return {d: comparable_rows(t) if (t := read_dataset(data_dir, d)) is not None else [] for d in datasets}
