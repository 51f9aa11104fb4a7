import time

from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.utils.response import response_status_message

from screener_crawler.middlewares.backoff import BackoffPolicy, retry_after_seconds
from screener_crawler.downloadhandlers.rate_gate import BACKOFF_UNTIL
from screener_crawler.polygon.pages import PAGE_READ
from screener_crawler.polygon.payload import decode_json

THROTTLED_TIMES = "retry_429_times"
"""Request meta: how many of its ``retry_times`` were 429s."""
INVALID_JSON = "invalid JSON"
PAGE_JSON = "screener_page_json"
"""Response meta: the decoded page, which the spider takes out (``spiders.base.page_json``)."""


class PolygonRetryMiddleware(RetryMiddleware):
    """Scrapy's ``RetryMiddleware``, made patient and JSON-aware for the Polygon API.

    - A 2xx API response whose body is not valid JSON (cut short on the way) is retried like a
      5xx, with the reason ``invalid JSON``.
    - A retried request does not go out again at once: it waits 1 s, 2 s, 4 s … with jitter
      (``BACKOFF_*``), or the server's ``Retry-After`` when longer; the ``RateGate``
      holds it, and after a 429 holds every request.
    - A 429 spends ``RETRY_429_TIMES``, not ``RETRY_TIMES``: being told to slow down is not
      a fault of the request.

    After the last retry the response or exception goes on to the spider, which fails the
    request's units with the reason (``HTTP 503``, ``invalid JSON``, the exception's name).
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.max_429_times = settings.getint("RETRY_429_TIMES")
        self.policy = BackoffPolicy.from_settings(settings)

    def process_response(self, request, response):
        if request.meta.get("dont_retry", False):
            return response
        if response.status == 429 and 429 in self.retry_http_codes:
            return self._retry_throttled(request) or response
        if response.status in self.retry_http_codes:
            server_wait = retry_after_seconds(response.headers.get(b"Retry-After"))
            return self._retry_later(request, response_status_message(response.status), server_wait) or response
        if 200 <= response.status < 300 and "polygon_endpoint" in request.meta and not _holds_json(request, response):
            return self._retry_later(request, INVALID_JSON) or response
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, self.exceptions_to_retry) and not request.meta.get("dont_retry", False):
            return self._retry_later(request, exception)
        return None

    def _retry_later(self, request, reason, server_wait=None):
        """A copy of ``request`` to send again after its backoff, or None when its retries
        (429s aside) are spent."""
        throttled = request.meta.get(THROTTLED_TIMES, 0)
        faults = request.meta.get("retry_times", 0) - throttled
        limit = request.meta.get("max_retry_times", self.max_retry_times)
        retry = self._get_retry_request(request, reason, max_retry_times=limit + throttled)
        if retry is not None:
            delay = max(self.policy.delay(faults + 1), server_wait or 0.0)
            retry.meta[BACKOFF_UNTIL] = time.time() + delay
            self.crawler.stats.inc_value("backoff/retry_wait_seconds", round(delay, 3))
        return retry

    def _retry_throttled(self, request):
        """A copy of a request refused with 429, while ``RETRY_429_TIMES`` allows; its wait is
        the pause the ``RateGate`` imposes on every request."""
        throttled = request.meta.get(THROTTLED_TIMES, 0)
        used = request.meta.get("retry_times", 0)
        allowed = used + 1 if throttled < self.max_429_times else used
        retry = self._get_retry_request(request, "429 Too Many Requests", max_retry_times=allowed)
        if retry is not None:
            retry.meta[THROTTLED_TIMES] = throttled + 1
        return retry

    def _get_retry_request(self, request, reason, max_retry_times):
        retry = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=reason,
            max_retry_times=max_retry_times,
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
            give_up_log_level=request.meta.get("give_up_log_level", self.give_up_log_level),
        )
        if retry is not None:
            retry.meta.pop(PAGE_READ, None)
        return retry


def _holds_json(request, response):
    """Whether the body parses; the parsed page is left in the request's ``PAGE_JSON`` (the
    response's meta, once the response reaches the spider) for the spider. A page the page
    reader middleware has read is not decoded again."""
    if PAGE_READ in request.meta:
        return request.meta[PAGE_READ] is not None
    try:
        request.meta[PAGE_JSON] = decode_json(response.body)
    except (ValueError, UnicodeDecodeError):
        return False
    return True
