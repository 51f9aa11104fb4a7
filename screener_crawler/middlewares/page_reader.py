import itertools

from screener_crawler.polygon.pages import PAGE_READ, PAGE_READER, read_page
from screener_crawler.workers import worker_pool


class PageReaderMiddleware:
    """Reads each API page whose request names a ``PageReader`` in a worker process as soon as
    it arrives, and leaves the ``ReadPage`` in the request's meta (``PAGE_READ``) for the
    spider; None there means the body is not JSON, which ``PolygonRetryMiddleware`` retries.

    The crawl's process only sends the body and receives Arrow tables: neither the 11-MB page
    of a 100-ticker statements listing nor a ticker's 4,000 daily bars hold its reactor. Reads
    take turns between the worker processes, and go before the writes waiting for them, so that
    the crawl's process does not hold the bodies while the workers catch up.
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
