import asyncio

from scrapy.utils.asyncio import run_in_thread

from screener_crawler.polygon.pages import PAGE_READ, PAGE_READER, read_page

class PageReaderMiddleware:
    """Reads each API page whose request names a ``PageReader`` (decode, parse, coerce to the
    datasets' schemas) in a thread as soon as it arrives, and leaves the ``ReadPage`` in the
    request's meta (``PAGE_READ``) for the spider; None there means the body is not JSON, which
    ``PolygonRetryMiddleware`` retries. Reading a 5-MB statements page takes tens of
    milliseconds even in Arrow: on the reactor's thread it would hold every other request."""

    def __init__(self, reads_at_once: int):
        self._reads_at_once = reads_at_once
        self._reading = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getint("PAGE_READS_AT_ONCE"))

    async def process_response(self, request, response):
        reader = request.meta.get(PAGE_READER)
        if reader is not None and 200 <= response.status < 300:
            if self._reading is None:
                self._reading = asyncio.Semaphore(self._reads_at_once)
            async with self._reading:
                request.meta[PAGE_READ] = await run_in_thread(read_page, reader, response.body)
        return response
