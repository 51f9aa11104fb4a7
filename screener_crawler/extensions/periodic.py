from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call


class PeriodicExtension:
    """An extension that calls ``tick()`` every ``<INTERVAL_SETTING>`` seconds while the spider
    is open (a setting of 0 or less turns it off). Subclasses set ``INTERVAL_SETTING``, write
    ``tick`` and may write ``started``, called once when the spider opens."""

    INTERVAL_SETTING = None

    def __init__(self, stats, interval):
        self._stats = stats
        self._interval = interval
        self._task = None

    @classmethod
    def from_crawler(cls, crawler):
        interval = crawler.settings.getfloat(cls.INTERVAL_SETTING)
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler.stats, interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self):
        self.started()
        self._task = create_looping_call(self.tick)
        self._task.start(self._interval, now=False)

    def spider_closed(self):
        if self._task and self._task.running:
            self._task.stop()

    def started(self):
        pass

    def tick(self):
        raise NotImplementedError
