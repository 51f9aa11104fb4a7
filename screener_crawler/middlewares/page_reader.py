from screener_crawler.polygon.pages import PAGE_READ, PAGE_READER, read_page
from screener_crawler.work_threads import PAGE_READS, run_on


class PageReaderMiddleware:
    """Reads each API page whose request names a ``PageReader`` (decode, parse, coerce to the
    datasets' schemas) on the page-read threads (``PAGE_READS_AT_ONCE`` of them,
    ``work_threads``) as soon as it arrives, and leaves the ``ReadPage`` in the
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

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getint("PAGE_READS_AT_ONCE"))

    async def process_response(self, request, response):
        reader = request.meta.get(PAGE_READER)
        if reader is None or not 200 <= response.status < 300:
            return response
        request.meta[PAGE_READ] = await run_on(PAGE_READS, read_page, reader, response.body,
                                               threads=self._reads_at_once)
        return response if request.meta[PAGE_READ] is None else response.replace(body=b"")
