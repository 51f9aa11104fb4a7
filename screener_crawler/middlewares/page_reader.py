from screener_crawler.polygon.pages import PAGE_READ, PAGE_READER, read_page
from screener_crawler.workers import worker_pool


class PageReaderMiddleware:
    """Reads each API page whose request names a ``PageReader`` in a worker process as soon as
    it arrives, and leaves the ``ReadPage`` in the request's meta (``PAGE_READ``) for the
    spider; None there means the body is not JSON, which ``PolygonRetryMiddleware`` retries.

    The crawl's process only sends the body and receives Arrow tables: neither the 11-MB page
    of a 100-ticker statements listing nor a ticker's 4,000 daily bars hold its reactor. Each
    read goes to the worker process with the fewest jobs, and before the writes waiting there:
    a page's rows reach the pipelines without waiting for every unit queued before them to be
    written. Taking turns instead, at 10,070 tickers a day of grouped daily prices waited in
    one worker behind a month's write of 10,000 files while the other worker had nothing to do.

    The body stays with the response until every item of the page has gone through the
    pipelines. Dropping it once read saved memory for a moment, but Scrapy stops downloading
    while the responses being processed add up to ``SCRAPER_SLOT_MAX_ACTIVE_SIZE``, counted by
    their bodies: without them it downloaded ahead of the writers, and the crawl's process
    held 1,108 MB at 1,000 tickers instead of 615 MB.
    """

    def __init__(self, crawler):
        self._workers = worker_pool(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_response(self, request, response):
        reader = request.meta.get(PAGE_READER)
        if reader is not None and 200 <= response.status < 300:
            request.meta[PAGE_READ] = await self._workers.run(None, read_page, reader, response.body, urgent=True)
        return response
