"""``python -m tests.scheduler_depth crawl ...``: Scrapy's command line, logging at the end the
most requests its scheduler held at once (``scheduler max pending: N``)."""

import logging
import sys

from scrapy.cmdline import execute
from scrapy.core.scheduler import Scheduler

logger = logging.getLogger(__name__)


def record_scheduler_depth():
    enqueue_request, close = Scheduler.enqueue_request, Scheduler.close
    deepest = 0

    def enqueue_and_measure(self, request):
        nonlocal deepest
        enqueued = enqueue_request(self, request)
        deepest = max(deepest, len(self))
        return enqueued

    def close_and_report(self, reason):
        logger.info("scheduler max pending: %d", deepest)
        return close(self, reason)

    Scheduler.enqueue_request = enqueue_and_measure
    Scheduler.close = close_and_report


if __name__ == "__main__":
    record_scheduler_depth()
    execute(["scrapy", *sys.argv[1:]])
