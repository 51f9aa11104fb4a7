from scrapy.exceptions import NotConfigured

from screener_crawler.allocator import fix_mmap_threshold


class MallocThreshold:
    """Fixes the mmap threshold of the crawl's own process at ``SCREENER_MALLOC_MMAP_THRESHOLD``
    bytes (``allocator.py``; the worker processes fix theirs as they start), as soon as the
    crawler is made, before any page is downloaded."""

    @classmethod
    def from_crawler(cls, crawler):
        size = crawler.settings.getint("SCREENER_MALLOC_MMAP_THRESHOLD")
        if not fix_mmap_threshold(size):
            raise NotConfigured("SCREENER_MALLOC_MMAP_THRESHOLD is 0, over 32 MiB, or the C library is not glibc")
        crawler.stats.set_value("memory/malloc_mmap_threshold", size)
        return cls()
