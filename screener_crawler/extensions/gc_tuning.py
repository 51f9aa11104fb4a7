import gc

from scrapy import signals
from scrapy.exceptions import NotConfigured


class CrawlGarbageCollection:
    """Sets the garbage collector's thresholds for the crawl (``SCREENER_GC_THRESHOLDS``) and
    freezes the objects of start-up (modules, settings, the spider) out of its reach.

    With Python's default thresholds (700, 10, 10) a crawl ran a full collection every two
    seconds or so, each 200–300 ms long with the GIL held, and none of them found garbage: the
    pages, rows and tables a crawl makes are freed by reference counting as soon as they are
    written. A young generation of tens of thousands of objects lets most of them die before a
    collection looks at them, and full collections come a tenth as often. Cycles are still
    collected; they wait a little longer. The previous thresholds come back when the spider
    closes."""

    def __init__(self, thresholds):
        self._thresholds = thresholds
        self._previous = None

    @classmethod
    def from_crawler(cls, crawler):
        given = [value for value in crawler.settings.getlist("SCREENER_GC_THRESHOLDS") if str(value).strip()]
        if not given:
            raise NotConfigured("SCREENER_GC_THRESHOLDS is empty: Python's default thresholds stay")
        try:
            thresholds = tuple(int(value) for value in given)
        except (TypeError, ValueError):
            thresholds = ()
        if len(thresholds) != 3 or min(thresholds) < 1:
            raise ValueError(f"SCREENER_GC_THRESHOLDS must be three positive integers, not {given!r}")
        extension = cls(thresholds)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self):
        self._previous = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(*self._thresholds)

    def spider_closed(self):
        if self._previous is not None:
            gc.set_threshold(*self._previous)
            gc.unfreeze()
