"""The memory pool Arrow allocates from in the crawl's process (``ARROW_MEMORY_POOL``).

Arrow's wheels default to mimalloc, which keeps the pages freed by each thread for that thread
to reuse. The crawl allocates Arrow memory from many threads (page readers, staging and
publishing threads, the ratio pass, Arrow's own I/O and CPU pools), so pools per thread keep
memory that no live table holds; the C library's malloc reuses it across threads as one heap. ``bench/README.md`` has the figures. An ``ARROW_DEFAULT_MEMORY_POOL`` in the
environment (Arrow's own variable) wins over the setting.

The setting reaches what pyarrow allocates with its default pool. Arrow's C++ library allocates
some memory (the Parquet writer's buffers, the dataset scanner) from its own default, which it
takes from ``ARROW_DEFAULT_MEMORY_POOL`` once, when pyarrow loads: the package sets that
variable to ``system`` unless it is set (``screener_crawler/__init__.py``).
"""

import logging

import pyarrow as pa

from screener_crawler import ARROW_POOL_FROM_ENVIRONMENT

logger = logging.getLogger(__name__)

POOLS = {"system": pa.system_memory_pool, "mimalloc": pa.mimalloc_memory_pool, "jemalloc": pa.jemalloc_memory_pool}
"""``ARROW_MEMORY_POOL`` values; empty keeps Arrow's default."""


def use_pool(name: str) -> None:
    """Make ``name`` (an ``ARROW_MEMORY_POOL`` value) the pool pyarrow allocates from, unless it
    is empty or the environment chose one."""
    if name and not ARROW_POOL_FROM_ENVIRONMENT:
        pa.set_memory_pool(POOLS[name]())


class ArrowMemoryPool:
    @classmethod
    def from_crawler(cls, crawler):
        use_pool(crawler.settings.get("ARROW_MEMORY_POOL") or "")
        logger.debug("Arrow allocates from its %s memory pool", pa.default_memory_pool().backend_name)
        return cls()
