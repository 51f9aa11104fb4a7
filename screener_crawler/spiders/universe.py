from screener_crawler.spiders.base import PolygonSpider


class UniverseSpider(PolygonSpider):
    """Every US common stock, active and delisted, into ``universe/universe.parquet``."""

    name = "universe"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.force = True

    async def start(self):
        self.tickers = None
        async for request in super().start():
            yield request
