import asyncio

from scrapy.utils.asyncio import run_in_thread

from screener_crawler.polygon.pages import PAGE_READ, PAGE_READER, read_page


class PageReaderMiddleware:
    """Reads each API page whose request names a ``PageReader`` (decode, parse, coerce to the
    datasets' schemas) in a thread as soon as it arrives, and leaves the ``ReadPage`` in the
    request's meta (``PAGE_READ``) for the spider; None there means the body is not JSON, which
    ``PolygonRetryMiddleware`` retries. Reading a 5-MB statements page takes tens of
    milliseconds even in Arrow: on the reactor's thread it would hold every other request.

    A page read is passed on without its body, which its callback does not read: Scrapy counts
    the body of every response whose items are still in the pipelines against
    ``SCRAPER_SLOT_MAX_ACTIVE_SIZE`` and sends no request while they exceed it, so the bodies of
    large pages waiting to be staged would stop the small requests too; the body's memory is
    freed as soon as the page is read."""

    def __init__(self, reads_at_once: int):
        self._reads_at_once = reads_at_once
        self._reading = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getint("PAGE_READS_AT_ONCE"))

    async def process_response(self, request, response):
        reader = request.meta.get(PAGE_READER)
        if reader is None or not 200 <= response.status < 300:
            return response
        if self._reading is None:
            self._reading = asyncio.Semaphore(self._reads_at_once)
        async with self._reading:
            request.meta[PAGE_READ] = await run_in_thread(read_page, reader, response.body)
        return response if request.meta[PAGE_READ] is None else response.replace(body=b"")
