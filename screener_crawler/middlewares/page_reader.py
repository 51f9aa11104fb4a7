import asyncio

from scrapy.utils.asyncio import run_in_thread

from screener_crawler.polygon.pages import PAGE_READ, PAGE_READER, read_page

READS_AT_ONCE = 2
"""Pages read at the same time, each holding its decoded page: a plainly valid page is read by
Arrow with the GIL released, any other mostly in Python, where more threads only wait for the
GIL."""


class PageReaderMiddleware:
    """Reads each API page whose request names a ``PageReader`` (decode, parse, coerce to the
    datasets' schemas) in a thread as soon as it arrives, and leaves the ``ReadPage`` in the
    request's meta (``PAGE_READ``) for the spider; None there means the body is not JSON, which
    ``PolygonRetryMiddleware`` retries. Reading a 5-MB statements page takes tens of
    milliseconds even in Arrow: on the reactor's thread it would hold every other request."""

    def __init__(self):
        self._reading = None

    async def process_response(self, request, response):
        reader = request.meta.get(PAGE_READER)
        if reader is not None and 200 <= response.status < 300:
            if self._reading is None:
                self._reading = asyncio.Semaphore(READS_AT_ONCE)
            async with self._reading:
                request.meta[PAGE_READ] = await run_in_thread(read_page, reader, response.body)
        return response
