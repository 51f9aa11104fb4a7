import itertools

from screener_crawler.polygon.pages import PAGE_READ, PAGE_READER, read_page
from screener_crawler.workers import worker_pool


class PageReaderMiddleware:
    """Reads each API page whose request names a ``PageReader`` in a worker process as soon as
    it arrives, and leaves the ``ReadPage`` in the request's meta (``PAGE_READ``) for the
    spider; None there means the body is not JSON, which ``PolygonRetryMiddleware`` retries.

    The crawl's process only sends the body and receives Arrow tables: neither the 11-MB page
    of a 100-ticker statements listing nor a ticker's 4,000 daily bars hold its reactor. Reads
    take turns between the worker processes, and go before the writes waiting for them: a page's
    rows reach the pipelines without waiting for every unit queued before them to be written.

    The body stays with the response until every item of the page has gone through the
    pipelines. Dropping it once read saved memory for a moment, but Scrapy stops downloading
    while the responses being processed add up to ``SCRAPER_SLOT_MAX_ACTIVE_SIZE``, counted by
    their bodies: without them it downloaded ahead of the writers, and the crawl's process
    held 1,108 MB at 1,000 tickers instead of 615 MB.
    """

    def __init__(self, crawler):
        self._workers = worker_pool(crawler)
        self._lanes = itertools.count()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_response(self, request, response):
        reader = request.meta.get(PAGE_READER)
        if reader is not None and 200 <= response.status < 300:
            request.meta[PAGE_READ] = await self._workers.run(next(self._lanes), read_page, reader, response.body,
                                                              urgent=True)
        return response
