import logging
import shutil
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.job import job_dir

logger = logging.getLogger(__name__)

MARKER = "crawl.running"
JOBDIR_STATE = ("requests.queue", "requests.seen", "spider.state", "open_units.pickle")


class JobdirCrashGuard:
    """Makes JOBDIR safe after a kill.

    A crawl stopped cleanly (Ctrl-C, or finished) leaves a JOBDIR whose queue, duplicate filter
    and open units agree, and resumes from it. A crawl killed (SIGKILL, power loss) leaves them
    inconsistent: requests in flight are lost but marked seen. A marker file tells the two
    apart; after a kill the JOBDIR state is cleared before Scrapy loads it, and the ledger
    alone decides what is redone.
    """

    def __init__(self, path):
        self._marker = path / MARKER
        if self._marker.exists():
            logger.warning("The last crawl in %s did not stop cleanly (killed?); starting afresh "
                           "from the ledger instead of resuming its queue.", path)
            for name in JOBDIR_STATE:
                target = path / name
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
        path.mkdir(parents=True, exist_ok=True)
        self._marker.touch()

    @classmethod
    def from_crawler(cls, crawler):
        path = job_dir(crawler.settings)
        if not path:
            raise NotConfigured
        guard = cls(Path(path))
        crawler.signals.connect(guard.spider_closed, signal=signals.spider_closed)
        return guard

    def spider_closed(self):
        self._marker.unlink(missing_ok=True)
