"""screener_crawler: US stock fundamentals, corporate actions and daily prices from the Polygon.io
REST API into Hive-partitioned Parquet, with Scrapy."""

import os

ARROW_POOL_FROM_ENVIRONMENT = bool(os.environ.get("ARROW_DEFAULT_MEMORY_POOL"))
"""Whether the user chose Arrow's pool in the environment (it then wins over ``ARROW_MEMORY_POOL``)."""
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
"""Arrow's C++ library takes its default memory pool from this variable once, when pyarrow
loads, and allocates from it wherever pyarrow passes no pool: the Parquet writer's buffers, the
dataset scanner. Scrapy imports this package (for its settings) before anything imports
pyarrow, so these allocations come from the C library's malloc, as ``ARROW_MEMORY_POOL`` makes
the rest (``extensions/arrow_memory_pool.py``); a pool per thread (mimalloc, Arrow's own default)
keeps what each thread freed. A value already in the environment wins."""
