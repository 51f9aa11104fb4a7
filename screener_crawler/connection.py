"""Which Polygon server a crawl talks to, and where its data go (DESIGN §5).

- a key and no base URL: the real API at ``DEFAULT_BASE_URL``;
- a base URL (with or without a key): that server, unchanged;
- neither: the embedded sandbox, started on loopback for the crawl, with synthetic data written
  under the sandbox data root so they never mix with real data.
"""

import logging
from pathlib import Path

from scrapy import signals
from scrapy.utils.conf import closest_scrapy_cfg

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.polygon.io"
DEFAULT_DATA_DIR = "data/partitioned_screener"
SANDBOX_DATA_DIR = "data/sandbox/partitioned_screener"
DEFAULT_PROGRESS_FILE = "data/download_progress.json"
SANDBOX_PROGRESS_FILE = "data/sandbox/download_progress.json"
LEDGER_IN_DATA_ROOT = "download_progress.json"
CRAWL_STATS_FILE = "crawl_stats.json"
"""Every stat of the last crawl, beside its ledger (``statscollectors.py``)."""

SANDBOX_BANNER = (
    "\n!!! SYNTHETIC DATA: no POLYGON_API_KEY and no POLYGON_BASE_URL are set, so this crawl"
    " runs against the embedded Polygon sandbox at %s."
    "\n!!! Its data are made up; they are written under %s, apart from real data."
    "\n!!! Set POLYGON_API_KEY to download real data."
)


def crawl_stats_file(ledger_path):
    """Where the crawl whose ledger is ``ledger_path`` writes its stats: beside it."""
    return Path(ledger_path).parent / CRAWL_STATS_FILE


def project_path(path):
    """``path`` as given when absolute, else relative to the project root (beside scrapy.cfg),
    so output lands in the project's ``data/`` wherever the command was run from."""
    path = Path(path)
    if path.is_absolute():
        return path
    cfg = closest_scrapy_cfg()
    return (Path(cfg).parent if cfg else Path.cwd()) / path


def uses_sandbox(settings):
    """True when the crawl would run against the embedded sandbox: no key and no base URL."""
    return bool(settings.getbool("POLYGON_SANDBOX")
                or (not settings.get("POLYGON_API_KEY") and not settings.get("POLYGON_BASE_URL")))


def data_root(settings):
    """The data root: ``SCREENER_DATA_DIR`` when set, else the real or the sandbox default."""
    default = SANDBOX_DATA_DIR if uses_sandbox(settings) else DEFAULT_DATA_DIR
    return project_path(settings.get("SCREENER_DATA_DIR") or default)


def progress_file(settings):
    """The ledger: ``SCREENER_PROGRESS_FILE`` when set; inside a data root the user chose, so
    that root carries its own ledger; else the real or the sandbox default."""
    if settings.get("SCREENER_PROGRESS_FILE"):
        return project_path(settings["SCREENER_PROGRESS_FILE"])
    if settings.get("SCREENER_DATA_DIR"):
        return project_path(settings["SCREENER_DATA_DIR"]) / LEDGER_IN_DATA_ROOT
    return project_path(SANDBOX_PROGRESS_FILE if uses_sandbox(settings) else DEFAULT_PROGRESS_FILE)


class PolygonConnection:
    """Scrapy addon that resolves the server, key and data root before the crawl starts and,
    when the embedded sandbox is needed, runs it for exactly the life of the crawl."""

    def __init__(self, crawler):
        self._crawler = crawler
        self._sandbox = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def update_settings(self, settings):
        if not settings.get("POLYGON_API_KEY") and not settings.get("POLYGON_BASE_URL"):
            self._start_sandbox(settings)
        elif not settings.get("POLYGON_BASE_URL"):
            _set(settings, "POLYGON_BASE_URL", DEFAULT_BASE_URL)

    def _start_sandbox(self, settings):
        from screener_crawler.sandbox import SANDBOX_API_KEY
        from screener_crawler.sandbox.process import SandboxProcess

        self._sandbox = SandboxProcess().start()
        _set(settings, "POLYGON_BASE_URL", self._sandbox.url)
        _set(settings, "POLYGON_API_KEY", SANDBOX_API_KEY)
        _set(settings, "POLYGON_SANDBOX", True)
        logger.warning(SANDBOX_BANNER, self._sandbox.url, data_root(settings))
        self._crawler.signals.connect(self._stop_sandbox, signal=signals.engine_stopped)

    def _stop_sandbox(self):
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None


def _set(settings, name, value):
    """Fill a setting the user left empty, at the priority of the empty default."""
    settings.set(name, value, priority=settings.getpriority(name) or "project")
