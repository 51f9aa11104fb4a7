import time

from screener_crawler.pipelines.staging import StagingPipeline


class StagingBacklogMiddleware:
    """Holds each request back while more rows wait to be staged than
    ``SCREENER_STAGING_BACKLOG_BYTES`` (``StagingPipeline.room_to_download``). A held request
    keeps its place among the ``CONCURRENT_REQUESTS``, so Scrapy takes no more from the
    scheduler meanwhile. Only pages already downloaded feed the backlog, so it drains whatever
    is held."""

    def __init__(self, crawler):
        self._crawler = crawler
        self._stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request):
        staging = self._crawler.get_item_pipeline(StagingPipeline)
        if staging is None:
            return None
        started = time.monotonic()
        await staging.room_to_download()
        if (held := time.monotonic() - started) > 0.001:
            self._stats.inc_value("staging/requests_held")
            self._stats.inc_value("staging/requests_held_seconds", round(held, 3))
        return None
