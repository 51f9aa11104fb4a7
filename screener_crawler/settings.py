"""Every default of the crawler, in one place (Scrapy settings; override with ``-s NAME=value``).

The environment is read here and nowhere else.
"""

import os

BOT_NAME = "screener_crawler"
SPIDER_MODULES = ["screener_crawler.spiders"]
NEWSPIDER_MODULE = "screener_crawler.spiders"
COMMANDS_MODULE = "screener_crawler.commands"
ADDONS = {"screener_crawler.connection.PolygonConnection": 0}

# --- Polygon connection (DESIGN §5) -------------------------------------------------------
# No key and no base URL: the embedded synthetic sandbox (see screener_crawler/connection.py).
POLYGON_API_KEY = os.environ.get("POLYGON_API_KEY", "")
POLYGON_BASE_URL = os.environ.get("POLYGON_BASE_URL", "")
# Hard cap in requests/second over the whole crawl; 0 = no cap. Free plan: 5 per minute
# (0.083); paid plans: stay under 100. Kept as given, so `scrapy crawl` refuses a bad value.
POLYGON_RATE_LIMIT = os.environ.get("POLYGON_RATE_LIMIT", "90")
# Tickers per request on endpoints that take a list (v1 statements: tickers.any_of). A page's
# size, and the crawl's memory, grow with it; the request count hardly falls above 50.
POLYGON_TICKERS_PER_REQUEST = 50
# Tickers per request of the v1 dividends and splits listings, whose pages are small: at 150, a
# batch's dividends (about 25 a ticker) fill most of one 5,000-row page.
POLYGON_CORPORATE_ACTION_TICKERS_PER_REQUEST = 150
# Rows per page; 0 = each endpoint's maximum (what a crawl wants: fewer requests).
POLYGON_PAGE_SIZE = 0
# Daily bars from PRICES_START to PRICES_END (empty: the last trading day whose session is complete
# at the API server's time, from /v1/marketstatus/now; never the local clock).
PRICES_START = "2009-01-01"
PRICES_END = ""
# auto: whichever needs fewer requests; grouped: one request per trading day (weekdays less NYSE
# holidays) for the whole market; per_ticker: one listing per ticker.
PRICES_SOURCE = "auto"
# Grouped daily bars are requested in this many lanes, one day at a time each, from one queue of
# days in date order: the lanes list the same month or two at a time, held in memory (every
# ticker's bars of the month) until the month's last day arrives. Each lane has one request in
# flight among CONCURRENT_REQUESTS at the rate gate, so the lanes' share of the requests, and how
# soon every ticker's prices are complete, grows with their number; the ratio pass waits for the
# last of them (see bench/README.md: 12 lanes against 6).
PRICES_GROUPED_LANES = 12
# The screener requests the ratio inputs (statements, daily prices, splits) first, each request
# that lists many tickers at once (a market-wide day, a batch) followed by this many requests of
# the other datasets (dividends, ticker events, related tickers), which keep the rate cap busy
# while the inputs' large pages are read; 0 = all the inputs' requests first.
SCREENER_REQUESTS_BESIDE_LEADING = 12
# Without -a tickers=, the universe on disk is reused when younger than this many hours.
SCREENER_UNIVERSE_MAX_AGE = 24
POLYGON_SANDBOX = False

# --- Storage (DESIGN §3, §4) ---------------------------------------------------------------
# Empty: data/partitioned_screener, or data/sandbox/partitioned_screener against the sandbox.
SCREENER_DATA_DIR = os.environ.get("SCREENER_DATA_DIR", "")
# Empty: data/download_progress.json, or data/sandbox/download_progress.json against the sandbox.
SCREENER_PROGRESS_FILE = os.environ.get("SCREENER_PROGRESS_FILE", "")
SCREENER_LEDGER_SAVE_INTERVAL = 10
SCREENER_PROGRESS_INTERVAL = 5
# Seconds between the reactor-lag probe's ticks (stats reactor/max_lag_ms); 0 turns it off.
SCREENER_REACTOR_LAG_INTERVAL = 0.05
# Units wait to be staged until this many bytes of rows are waiting or SCREENER_STAGING_DELAY seconds
# have passed since the first of them; then all of them go into one staged file per dataset.
SCREENER_STAGING_BYTES = 32_000_000
SCREENER_STAGING_DELAY = 0.5
# Bytes of rows (Arrow) waiting to be staged above which the crawl sends no more requests until
# staging catches up; 0 = no limit.
SCREENER_STAGING_BACKLOG_BYTES = 64_000_000
# Seconds between publishes of the staged units while a crawl runs (they are also published
# when it starts and when it stops, and a ratio input once all of it is staged); 0 = only then.
# A publish rewrites every partition its staged units touch, and a batch of tickers touches
# nearly all of a dataset's: each publish costs about a rewrite of every dataset downloaded since
# the last one. Staged units are durable either way; this only sets how soon they show in the
# partitions.
SCREENER_PUBLISH_INTERVAL = 300
# The months of the grouped daily prices are published as soon as this many are staged (each
# month is a whole partition, published once); 0 = only with the rest.
SCREENER_PUBLISH_MONTHS = 20
# Tickers whose financial ratios are computed together in the ratio pass: memory grows with it.
SCREENER_RATIO_CHUNK_TICKERS = 150
# -a update=1 redoes a ticker's ticker events, related tickers (and details) once they are older
# than this many days (each ticker at its own point between half and all of it); 0 = never.
SCREENER_REFRESH_DAYS = 30
# Batches of this many records or more are validated in a thread, off the reactor.
SCREENER_VALIDATE_IN_THREAD_ROWS = 2000

# --- HTTP ------------------------------------------------------------------------------------
ROBOTSTXT_OBEY = False
USER_AGENT = "screener_crawler (+https://github.com/screener-crawler)"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 16
DOWNLOAD_TIMEOUT = 60
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.05
AUTOTHROTTLE_MAX_DELAY = 10
AUTOTHROTTLE_TARGET_CONCURRENCY = 16
RETRY_ENABLED = True
# Retries of a request after 5xx, timeouts, resets or invalid JSON; then its units fail.
RETRY_TIMES = 5
# 429s a request may meet on top of RETRY_TIMES: each pauses the whole crawl first.
RETRY_429_TIMES = 20
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 408]
# Wait before a retry, or after a 429 without Retry-After: BACKOFF_BASE_DELAY seconds, doubled
# each time up to BACKOFF_MAX_DELAY, shortened by a random share of up to BACKOFF_JITTER.
BACKOFF_BASE_DELAY = 1.0
BACKOFF_MAX_DELAY = 60.0
BACKOFF_JITTER = 0.25
# This many 429 pauses in a row (no success between) cut the rate by BACKOFF_RATE_FACTOR; it
# grows back by a quarter per BACKOFF_RECOVERY_INTERVAL seconds without a 429.
BACKOFF_LOWER_RATE_AFTER = 3
BACKOFF_RATE_FACTOR = 0.5
BACKOFF_RECOVERY_INTERVAL = 30.0
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "screener_crawler.middlewares.staging_backlog.StagingBacklogMiddleware": 50,
    "screener_crawler.middlewares.retry.PolygonRetryMiddleware": 550,
    "screener_crawler.middlewares.entitlement.PlanEntitlementMiddleware": 560,
    # Before the retry middleware sees a response, its page is read (in a thread).
    "screener_crawler.middlewares.page_reader.PageReaderMiddleware": 570,
    # Nearest the network of all (after redirects and the HTTP cache): the key is added last
    # and taken off first, so no retried, redirected or cached copy of a request carries it.
    "screener_crawler.middlewares.auth.AuthMiddleware": 950,
}
# The rate cap and the 429 pauses hold requests in the download handler, the last step before
# the wire (see screener_crawler.downloadhandlers.rate_gate.py).
DOWNLOAD_HANDLERS = {
    "http": "screener_crawler.downloadhandlers.rate_gate.RateLimitedDownloadHandler",
    "https": "screener_crawler.downloadhandlers.rate_gate.RateLimitedDownloadHandler",
}
SPIDER_MIDDLEWARES = {
    "screener_crawler.middlewares.unit_failures.UnitFailureMiddleware": 100,
}

# Pages read at the same time (in threads), each holding its decoded page: a plainly valid page
# is read by Arrow with the GIL released, any other mostly in Python, where more threads only
# wait for the GIL.
PAGE_READS_AT_ONCE = 2
# --- Items ----------------------------------------------------------------------------------
# Items of one response that go through the pipelines at a time. A response yields a few: a
# record batch per dataset, one UnitsComplete for all the units it completes, the next request;
# Scrapy starts this many asyncio tasks for every response however few items it has.
CONCURRENT_ITEMS = 4
# Bytes of responses whose items are still in the pipelines above which Scrapy stops
# downloading. A page read by the page reader middleware counts 1 KB (its body is dropped once
# read); a page read by its callback, its body's size.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 40_000_000
# Validation and collection must stay synchronous so a unit's records reach the collector
# before the UnitsComplete that names it (see UnitCollectorPipeline).
ITEM_PIPELINES = {
    "screener_crawler.pipelines.validation.ValidationPipeline": 100,
    "screener_crawler.pipelines.unit_collector.UnitCollectorPipeline": 200,
    "screener_crawler.pipelines.staging.StagingPipeline": 300,
    "screener_crawler.pipelines.financial_ratios.FinancialRatiosPipeline": 350,
    "screener_crawler.pipelines.ledger.LedgerPipeline": 400,
}
EXTENSIONS = {
    "screener_crawler.extensions.arrow_memory_pool.ArrowMemoryPool": 0,
    "screener_crawler.extensions.background_priority.BackgroundPriority": 0,
    "screener_crawler.extensions.jobdir_guard.JobdirCrashGuard": 0,
    "screener_crawler.extensions.field_stats.DatasetFieldStats": 500,
    "screener_crawler.extensions.progress.CrawlProgress": 500,
    "screener_crawler.extensions.reactor_lag.ReactorLag": 500,
    "scrapy.extensions.logstats.LogStats": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
}
# Arrow's memory pool in the crawl's process: system (the C library's malloc), mimalloc,
# jemalloc, or empty for Arrow's default (see extensions/arrow_memory_pool.py).
ARROW_MEMORY_POOL = "system"
# How much nicer (0-19) than the crawl the threads of publishing, partition writes and the ratio
# pass run (Linux; extensions/background_priority.py). Empty: 10 under a rate cap, 0 without.
SCREENER_BACKGROUND_NICENESS = ""
# scrapy-fieldstats, per dataset (extensions/field_stats.py): the stats get fields_coverage/<dataset>,
# each column's share of the dataset's rows with a value, or with COUNTS_ONLY how many rows have
# one; SKIP_NONE off counts a null as a value.
FIELDSTATS_ENABLED = True
FIELDSTATS_COUNTS_ONLY = False
FIELDSTATS_SKIP_NONE = True
FIELDSTATS_ADD_TO_STATS = True

# At its end a crawl logs a short summary and writes every stat to crawl_stats.json beside the
# ledger (statscollectors.py); STATS_DUMP=True also dumps them all into the log, as Scrapy does.
STATS_CLASS = "screener_crawler.statscollectors.CrawlStatsFile"
STATS_DUMP = False

LOG_LEVEL = "INFO"

# --- scrapy export-qlib --------------------------------------------------------------------
# Tickers per batch (a batch's bars, statements and ratios are in memory at once) and worker
# processes; each file's row groups hold about 1,500 tickers' rows, so a batch reads its own.
QLIB_EXPORT_BATCH_TICKERS = 1000
QLIB_EXPORT_WORKERS = 2
