import logging

from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import deferred_from_coro

from screener_crawler.polygon.endpoints import ENDPOINTS
from screener_crawler.polygon.payload import decode_json

logger = logging.getLogger(__name__)


class PlanNotEntitled(IgnoreRequest):
    """The key's plan does not include this endpoint (403 NOT_AUTHORIZED)."""


class ApiKeyRejected(IgnoreRequest):
    """The API answered 401: the key is unknown or missing."""


class PlanEntitlementMiddleware:
    """Tells a plan's limits from failures.

    403 NOT_AUTHORIZED marks the endpoint's plan group unavailable for the rest of the run:
    the request fails with ``PlanNotEntitled`` (its spider may fall back) and later requests
    to the group fail the same way without reaching the network. 401 stops the crawl at once
    with one message instead of one failure per ticker.
    """

    def __init__(self, crawler):
        self._crawler = crawler
        self._stats = crawler.stats
        self._unavailable = set()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        plan = self._plan(request)
        if plan in self._unavailable:
            self._stats.inc_value(f"plan/skipped/{plan}")
            raise PlanNotEntitled(f"plan lacks {plan}")

    def process_response(self, request, response):
        if response.status == 401:
            self._stop_on_rejected_key(response)
            raise ApiKeyRejected("HTTP 401")
        if response.status == 403 and _status(response) == "NOT_AUTHORIZED":
            plan = self._plan(request)
            if plan and plan not in self._unavailable:
                self._unavailable.add(plan)
                self._warn_unavailable(ENDPOINTS[request.meta["polygon_endpoint"]])
            self._stats.inc_value(f"plan/not_entitled/{plan}")
            raise PlanNotEntitled(f"plan lacks {plan}")
        return response

    @staticmethod
    def _warn_unavailable(endpoint):
        """Once per plan: what the crawl does without it, by the declared ``fallback``."""
        fallback = endpoint.fallback_endpoint
        if fallback:
            logger.warning("Your Polygon plan does not include %s (403 NOT_AUTHORIZED); using the older "
                           "endpoints for the rest of this run (%s instead).", endpoint.path, fallback.path)
        else:
            logger.warning("Your Polygon plan does not include %s (403 NOT_AUTHORIZED); %s cannot be "
                           "downloaded in this run.", endpoint.path, ", ".join(endpoint.datasets))

    def _stop_on_rejected_key(self, response):
        if self._stats.get_value("plan/api_key_rejected"):
            return
        self._stats.set_value("plan/api_key_rejected", 1)
        logger.error(
            "Polygon rejected the API key (HTTP 401: %s). Check POLYGON_API_KEY; stopping the crawl.",
            _message(response),
        )
        deferred_from_coro(self._crawler.engine.close_spider_async(reason="api_key_rejected"))

    @staticmethod
    def _plan(request):
        endpoint = ENDPOINTS.get(request.meta.get("polygon_endpoint"))
        return endpoint.plan if endpoint else None


def _payload(response):
    try:
        return decode_json(response.body)
    except ValueError:
        return {}


def _status(response):
    payload = _payload(response)
    return payload.get("status") if isinstance(payload, dict) else None


def _message(response):
    payload = _payload(response)
    if not isinstance(payload, dict):
        return "no message"
    return payload.get("error") or payload.get("message") or "no message"
