import logging

from screener_crawler.items import UnitFailed

logger = logging.getLogger(__name__)


class UnitFailureMiddleware:
    """A callback that raises (invalid JSON, a repeating cursor...) fails the units its
    request was feeding, with the reason, instead of leaving them open forever."""

    def __init__(self, stats):
        self._stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_spider_exception(self, response, exception):
        units = response.meta.get("polygon_units")
        if not units:
            return None
        reason = _reason(exception)
        logger.warning("%s on %s: %d unit(s) failed", reason, response.url.split("?")[0], len(units))
        return [UnitFailed(dataset, ticker, reason) for dataset, ticker in units]


def _reason(exception):
    if isinstance(exception, ValueError) and type(exception).__name__ == "JSONDecodeError":
        return "invalid JSON"
    return type(exception).__name__
