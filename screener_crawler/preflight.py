"""What ``scrapy crawl`` checks before the crawl starts and sends anything: the numbers a user
types (rates, concurrency, retries) and the places the crawl will write. Each problem is one
line that names the setting and says what would be accepted."""

import math
import tempfile
from pathlib import Path

from screener_crawler.extensions.arrow_memory_pool import POOLS
from screener_crawler.connection import data_root, progress_file
from screener_crawler.storage.layout import V1_LAYOUT_MESSAGE, has_v1_layout


class PreflightError(ValueError):
    pass


NUMERIC_SETTINGS = (
    # name, type, smallest accepted value, what it is
    ("POLYGON_RATE_LIMIT", float, 0, "requests per second; 0 = no cap, free plan 0.083"),
    ("CONCURRENT_REQUESTS", int, 1, "requests in flight at once"),
    ("CONCURRENT_REQUESTS_PER_DOMAIN", int, 1, "requests in flight at once to the API"),
    ("CONCURRENT_ITEMS", int, 1, "items of one response in the pipelines at once"),
    ("DOWNLOAD_TIMEOUT", float, 1, "seconds to wait for a response"),
    ("RETRY_TIMES", int, 0, "retries of a failed request"),
    ("RETRY_429_TIMES", int, 0, "retries of a request refused with 429"),
    ("BACKOFF_BASE_DELAY", float, 0, "seconds before the first retry"),
    ("BACKOFF_MAX_DELAY", float, 0, "the longest wait between retries, in seconds"),
    ("BACKOFF_LOWER_RATE_AFTER", int, 1, "429 pauses in a row before the rate is lowered"),
    ("BACKOFF_RECOVERY_INTERVAL", float, 0, "seconds without a 429 before the rate grows back"),
    ("POLYGON_TICKERS_PER_REQUEST", int, 1, "tickers per request"),
    ("POLYGON_CORPORATE_ACTION_TICKERS_PER_REQUEST", int, 1, "tickers per dividends or splits request"),
    ("POLYGON_PAGE_SIZE", int, 0, "rows per page; 0 = the endpoint's maximum"),
    ("SCREENER_STAGING_BYTES", int, 1, "bytes of units waiting before they are staged"),
    ("SCREENER_STAGING_DELAY", float, 0, "seconds a unit waits for others to be staged with"),
    ("SCREENER_PUBLISH_INTERVAL", float, 0, "seconds between publishes while crawling; 0 = at start and end"),
    ("SCREENER_PUBLISH_MONTHS", int, 0, "grouped daily months staged before they are published; 0 = with the rest"),
    ("SCREENER_RATIO_CHUNK_TICKERS", int, 1, "tickers whose financial ratios are computed together"),
    ("PRICES_GROUPED_LANES", int, 1, "grouped daily months listed at once"),
    ("SCREENER_REQUESTS_BESIDE_LEADING", int, 0, "other requests after each of the ratio inputs' batches"),
    ("PAGE_READS_AT_ONCE", int, 1, "pages read at the same time"),
)
FRACTION_SETTINGS = (
    ("BACKOFF_JITTER", "the share of a wait that is random"),
    ("BACKOFF_RATE_FACTOR", "the factor the rate is multiplied by after repeated 429s"),
)


def check_settings(settings):
    """Raise ``PreflightError`` for the first setting a crawl cannot run with."""
    for name, kind, minimum, meaning in NUMERIC_SETTINGS:
        value = settings.get(name)
        number = _number(value, kind)
        if number is None or number < minimum:
            whole = "a whole number" if kind is int else "a number"
            raise PreflightError(f"{name} must be {whole}, {minimum} or more ({meaning}), not {value!r}")
    for name, meaning in FRACTION_SETTINGS:
        value = settings.get(name)
        number = _number(value, float)
        if number is None or not 0 <= number <= 1:
            raise PreflightError(f"{name} must be a number between 0 and 1 ({meaning}), not {value!r}")
    _check_arrow_memory_pool(settings.get("ARROW_MEMORY_POOL") or "")
    _check_background_niceness(settings.get("SCREENER_BACKGROUND_NICENESS"))
    _check_writable(data_root(settings), "SCREENER_DATA_DIR", "the data directory")
    _check_writable(progress_file(settings).parent, "SCREENER_PROGRESS_FILE", "the ledger's folder")
    if progress_file(settings).is_dir():
        raise PreflightError(f"the ledger {progress_file(settings)} is a folder; "
                             "set SCREENER_PROGRESS_FILE to a file name")
    if settings.get("JOBDIR"):
        _check_writable(Path(settings["JOBDIR"]), "JOBDIR", "the job directory")
    if has_v1_layout(data_root(settings)):
        raise PreflightError(V1_LAYOUT_MESSAGE.format(root=data_root(settings)))


def _check_background_niceness(value):
    if value in (None, ""):
        return
    number = _number(value, int)
    if number is None or not 0 <= number <= 19:
        raise PreflightError(f"SCREENER_BACKGROUND_NICENESS must be a whole number from 0 to 19 (how much nicer "
                             f"than the crawl publishing and the ratio pass run) or empty, not {value!r}")


def _check_arrow_memory_pool(pool):
    if not pool:
        return
    if pool not in POOLS:
        raise PreflightError(f"ARROW_MEMORY_POOL must be one of {', '.join(POOLS)} or empty "
                             f"(Arrow's default), not {pool!r}")
    try:
        POOLS[pool]()
    except NotImplementedError:
        raise PreflightError(f"ARROW_MEMORY_POOL {pool!r}: this build of pyarrow has no {pool} pool") from None


def _number(value, kind):
    """``value`` as an int or a finite float, or None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _check_writable(folder, setting, what):
    """Create ``folder`` if needed and write and remove a probe file in it."""
    if folder.exists() and not folder.is_dir():
        reason = "it is a file"
    else:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-", suffix=".tmp"):
                return
        except OSError as error:
            reason = (error.strerror or str(error)).lower()
    raise PreflightError(f"{what} {folder} cannot be written ({reason}); set {setting} to a folder you can write")
