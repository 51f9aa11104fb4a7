from screener_crawler.workers import worker_pool


class WorkerBacklogMiddleware:
    """Holds each request, before it is downloaded, while every worker process (``workers.py``)
    has ``SCREENER_WORKER_BACKLOG`` jobs or more waiting for it; 0 holds none.

    At 10,070 tickers the workers are the slowest part of the crawl, and page reads go before
    the writes waiting (``page_reader.py``), so the downloads outran the writes. The only brake
    was ``SCRAPER_SLOT_MAX_ACTIVE_SIZE``, which counts bodies' bytes: thousands of small pages
    fit under it, each waiting with its items' asyncio tasks for its units' writes, and the
    young garbage collections that walked them held the reactor up to 446 ms.

    A held request keeps its place in the downloader, so Scrapy takes nothing more from the
    scheduler (nor from ``start``) meanwhile.
    """

    def __init__(self, crawler):
        self._workers = worker_pool(crawler)
        self._limit = crawler.settings.getint("SCREENER_WORKER_BACKLOG")
        self._stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request):
        if self._limit and self._workers.shortest_queue() >= self._limit:
            self._stats.inc_value("workers/requests_held")
            await self._workers.room_for_jobs(self._limit)
