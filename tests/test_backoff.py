"""Backoff without a network: how long a 429, a 5xx or a truncated body makes whom wait, the
retry budgets, and the rate lowered after repeated 429s and raised again. Waits are recorded on
a fake clock instead of slept."""

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from itertools import pairwise

import pytest
from scrapy import Spider
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from screener_crawler import settings as project_settings
from screener_crawler.downloadhandlers import rate_gate
from screener_crawler.middlewares.backoff import BackoffPolicy, retry_after_seconds
from screener_crawler.downloadhandlers.rate_gate import BACKOFF_UNTIL, RateGate
from screener_crawler.middlewares.retry import PAGE_JSON, PolygonRetryMiddleware
from screener_crawler.spiders.base import page_json

BASE = "http://127.0.0.1:8700"
NO_JITTER = BackoffPolicy(base_delay=1.0, max_delay=60.0, jitter=0.0)


class FakeClock:
    """A monotonic clock that only moves when the gate sleeps (or the test says so)."""

    def __init__(self):
        self.now = 1000.0
        self.waits = []

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.waits.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(rate_gate, "sleep", fake.sleep)
    return fake


def stats():
    crawler = get_crawler()
    crawler.stats.open_spider()
    return crawler.stats


def new_gate(clock, rate=0.0, **options):
    return RateGate(rate, stats(), BASE, policy=NO_JITTER, clock=clock, **options)


def api_request(path="/v3/reference/tickers", **meta):
    return Request(f"{BASE}{path}", meta={"polygon_endpoint": "tickers", **meta})


def send(gate, request=None):
    """Pass a request through the gate; the seconds it was held."""
    request = request or api_request()
    start = gate._clock()
    asyncio.run(gate.wait(request))
    return request, round(gate._clock() - start, 6)


def answer(gate, request, status=200, retry_after=None, body=b"{}"):
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    response = TextResponse(request.url, status=status, headers=headers, body=body, request=request)
    gate.observe(request, response)


# --- Retry-After and exponential delays ----------------------------------------------------------

def test_retry_after_in_seconds():
    assert retry_after_seconds(b"3") == 3.0


def test_retry_after_as_an_http_date():
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=12), usegmt=True), now=now) == 12.0


def test_retry_after_in_the_past_asks_for_no_wait():
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert retry_after_seconds("Thu, 02 Jan 2025 03:00:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("value", [None, b"", b"soon", b"-5", b"1.5e3"])
def test_unusable_retry_after_is_ignored(value):
    assert retry_after_seconds(value) is None


class FixedRandom:
    def __init__(self, value):
        self.value = value

    def random(self):
        return self.value


def test_backoff_doubles_from_one_second_up_to_the_cap():
    policy = BackoffPolicy(base_delay=1.0, max_delay=10.0, jitter=0.25)
    assert [policy.delay(n, FixedRandom(0.0)) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_jitter_shortens_a_wait_by_at_most_its_share():
    policy = BackoffPolicy(base_delay=1.0, max_delay=10.0, jitter=0.25)
    assert policy.delay(3, FixedRandom(0.999999)) == pytest.approx(3.0, abs=1e-5)
    waits = {policy.delay(3) for _ in range(200)}
    assert min(waits) >= 3.0 and max(waits) <= 4.0 and len(waits) > 100


# --- the gate: rate cap and pauses ------------------------------------------------------------------

def sends_through(gate, count):
    """When each of ``count`` requests, passed through the gate one after another, left."""
    return [send(gate)[0].meta[rate_gate.SENT_AT] for _ in range(count)]


def busiest_second(times):
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def test_no_second_holds_more_requests_than_the_cap(clock):
    sent = sends_through(new_gate(clock, rate=4.0), 13)
    assert busiest_second(sent) == 4
    assert sent[-1] - sent[0] == pytest.approx(3 * (1 + rate_gate.JITTER_MARGIN))


def test_under_one_request_a_second_requests_leave_one_per_interval(clock):
    sent = sends_through(new_gate(clock, rate=0.5), 4)
    assert [round(b - a, 6) for a, b in pairwise(sent)] == [2 * (1 + rate_gate.JITTER_MARGIN)] * 3


def test_a_fractional_rate_is_held_to_its_whole_requests_a_second(clock):
    sent = sends_through(new_gate(clock, rate=2.5), 11)
    assert busiest_second(sent) == 2


def test_requests_woken_late_are_made_up_within_the_window(clock, monkeypatch):
    """A reactor that wakes each waiter 40 ms late, at a cap of 10 a second, still lets 10
    requests a second through; spacing each request from the one before would let 7."""
    late_clock_sleep = clock.sleep

    async def late_sleep(seconds):
        await late_clock_sleep(seconds + 0.04)

    monkeypatch.setattr(rate_gate, "sleep", late_sleep)
    sent = sends_through(new_gate(clock, rate=10.0), 101)
    assert busiest_second(sent) <= 10
    assert 100 / (sent[-1] - sent[0]) > 9.0


def test_without_a_cap_nothing_waits(clock):
    gate = new_gate(clock)
    assert [send(gate)[1] for _ in range(5)] == [0, 0, 0, 0, 0]


def test_a_429_with_retry_after_holds_every_request_for_that_long(clock):
    gate = new_gate(clock)
    refused, _ = send(gate)
    answer(gate, refused, 429, retry_after="3")
    _, held = send(gate, api_request("/v1/related-companies/AAPL"))
    assert held == 3.0
    assert gate._stats.get_value("backoff/pauses") == 1
    assert gate._stats.get_value("backoff/retry_after_honoured") == 1


def test_only_requests_to_the_api_pass_the_gate(clock):
    gate = new_gate(clock)
    assert gate.applies_to(api_request())
    assert not gate.applies_to(Request("http://example.com/v3/reference/tickers"))


def test_429s_without_retry_after_back_off_1_2_4_seconds(clock):
    gate = new_gate(clock, lower_rate_after=10)
    holds = []
    request, _ = send(gate)
    for _ in range(3):
        answer(gate, request, 429)
        request, held = send(gate)
        holds.append(held)
    assert holds == [1.0, 2.0, 4.0]


def test_a_success_ends_the_streak(clock):
    gate = new_gate(clock, lower_rate_after=10)
    request, _ = send(gate)
    answer(gate, request, 429)
    request, _ = send(gate)
    answer(gate, request, 429)
    request, _ = send(gate)
    answer(gate, request, 200)
    request, _ = send(gate)
    answer(gate, request, 429)
    assert send(gate)[1] == 1.0


def test_429s_to_requests_already_in_flight_are_one_pause(clock):
    gate = new_gate(clock)
    in_flight = [send(gate)[0] for _ in range(8)]
    clock.now += 0.05
    for request in in_flight:
        answer(gate, request, 429, retry_after="2")
    assert gate._stats.get_value("backoff/pauses") == 1
    assert gate.rate == 0
    assert send(gate)[1] == 2.0


def test_repeated_429s_lower_the_rate_and_quiet_raises_it_back_gradually(clock):
    gate = new_gate(clock, rate=8.0, lower_rate_after=3, rate_factor=0.5, recovery_interval=30.0)
    for _ in range(3):
        request, _ = send(gate)
        answer(gate, request, 429, retry_after="1")
    assert gate.rate == 4.0
    request, _ = send(gate)
    answer(gate, request, 429, retry_after="1")
    assert gate.rate == 2.0
    rates = []
    for _ in range(8):
        clock.now += 15
        request, _ = send(gate)
        answer(gate, request, 200)
        rates.append(gate.rate)
    assert rates == [2.0, 2.5, 2.5, 3.125, 3.125, 3.90625, 3.90625, 4.8828125]
    for _ in range(6):
        clock.now += 30
        request, _ = send(gate)
        answer(gate, request, 200)
    assert gate.rate == 8.0


def test_an_uncapped_crawl_gets_a_rate_when_429s_repeat_and_loses_it_when_recovered(clock):
    gate = new_gate(clock, lower_rate_after=2, recovery_interval=1.0)
    for _ in range(20):
        send(gate)
        clock.now += 0.05
    for _ in range(2):
        clock.now += 0.05
        request, _ = send(gate)
        clock.now += 0.05
        answer(gate, request, 429, retry_after="0")
    assert 0 < gate.rate < 20
    for _ in range(10):
        clock.now += 1.0
        request, _ = send(gate)
        answer(gate, request, 200)
    assert gate.rate == 0


def test_a_retried_request_waits_its_own_backoff_and_holds_no_other(clock):
    gate = new_gate(clock)
    retried = api_request(**{BACKOFF_UNTIL: time.time() + 5})
    _, held = send(gate, retried)
    assert 4.5 < held <= 5.0
    assert send(gate)[1] == 0


# --- retries ---------------------------------------------------------------------------------------------

def retry_middleware(**overrides):
    settings = {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}
    settings.update(POLYGON_BASE_URL=BASE, BACKOFF_JITTER=0.0, **overrides)
    crawler = get_crawler(Spider, settings)
    crawler.spider = crawler._create_spider("test")
    crawler.stats.open_spider()
    return PolygonRetryMiddleware.from_crawler(crawler), crawler.stats


def respond(request, status=200, body=b'{"results": []}', headers=None, cls=TextResponse):
    return cls(request.url, status=status, body=body, headers=headers or {}, request=request)


def waits_before_retries(middleware, request, make_response):
    """Follow a request through its retries; the backoff before each one."""
    waits = []
    while True:
        result = middleware.process_response(request, make_response(request))
        if not isinstance(result, Request):
            return waits, result
        waits.append(round(result.meta[BACKOFF_UNTIL] - time.time()))
        request = result


def test_truncated_json_is_retried_then_passed_on_for_the_unit_to_fail():
    middleware, stats = retry_middleware(RETRY_TIMES=3)
    waits, final = waits_before_retries(middleware, api_request(), lambda r: respond(r, body=b'{"results": [{"tic'))
    assert waits == [1, 2, 4]
    assert final.status == 200
    assert stats.get_value("retry/reason_count/invalid JSON") == 3
    assert stats.get_value("retry/max_reached") == 1


def test_html_5xx_pages_are_retried_with_growing_waits():
    middleware, stats = retry_middleware(RETRY_TIMES=5)
    page = b"<html><head><title>502 Bad Gateway</title></head></html>"
    waits, final = waits_before_retries(middleware, api_request(), lambda r: respond(r, 502, page, cls=HtmlResponse))
    assert waits == [1, 2, 4, 8, 16]
    assert final.status == 502
    assert stats.get_value("retry/reason_count/502 Bad Gateway") == 5


def test_a_5xx_retry_after_longer_than_the_backoff_wins():
    middleware, _ = retry_middleware()
    retry = middleware.process_response(api_request(), respond(api_request(), 503, b"", {"Retry-After": "7"}))
    assert round(retry.meta[BACKOFF_UNTIL] - time.time()) == 7


def test_valid_json_passes_and_is_handed_to_the_spider_once():
    middleware, _ = retry_middleware()
    request = api_request()
    response = respond(request)
    assert middleware.process_response(request, response) is response
    assert response.meta[PAGE_JSON] == {"results": []}
    assert page_json(response) == {"results": []}
    assert PAGE_JSON not in response.meta


def test_non_api_and_error_bodies_are_not_parsed():
    middleware, _ = retry_middleware()
    request = Request(f"{BASE}/robots.txt")
    response = respond(request, body=b"not json")
    assert middleware.process_response(request, response) is response
    not_found = respond(api_request(), 404, b"<html>")
    assert middleware.process_response(not_found.request, not_found) is not_found


def test_429s_have_their_own_budget_apart_from_retry_times():
    middleware, stats = retry_middleware(RETRY_TIMES=2, RETRY_429_TIMES=6)
    request, statuses = api_request(), [429] * 4 + [503, 503, 503]
    for status in statuses:
        result = middleware.process_response(request, respond(request, status, b"{}"))
        if not isinstance(result, Request):
            break
        request = result
    assert isinstance(result, TextResponse) and result.status == 503
    assert stats.get_value("retry/reason_count/429 Too Many Requests") == 4
    assert stats.get_value("retry/reason_count/503 Service Unavailable") == 2


def test_a_request_refused_more_than_retry_429_times_gives_up():
    middleware, _ = retry_middleware(RETRY_429_TIMES=3)
    request, outcomes = api_request(), []
    for _ in range(5):
        result = middleware.process_response(request, respond(request, 429, b"{}"))
        outcomes.append(isinstance(result, Request))
        request = result if isinstance(result, Request) else request
    assert outcomes == [True, True, True, False, False]
    assert BACKOFF_UNTIL not in request.meta


def test_connection_errors_are_retried_with_backoff():
    middleware, _ = retry_middleware()
    retry = middleware.process_exception(api_request(), ConnectionResetError())
    assert isinstance(retry, Request)
    assert round(retry.meta[BACKOFF_UNTIL] - time.time()) == 1


def test_auth_is_nearest_the_network_of_every_downloader_middleware():
    settings = Settings()
    settings.setmodule(project_settings)
    enabled = {**settings.getdict("DOWNLOADER_MIDDLEWARES_BASE"), **settings.getdict("DOWNLOADER_MIDDLEWARES")}
    order = sorted((priority, name) for name, priority in enabled.items() if priority is not None)
    assert order[-1][1] == "screener_crawler.middlewares.auth.AuthMiddleware"
    assert "scrapy.downloadermiddlewares.retry.RetryMiddleware" not in [name for _, name in order]


def test_a_retried_copy_never_carries_the_key():
    from screener_crawler.middlewares.auth import AuthMiddleware

    middleware, _ = retry_middleware()
    auth = AuthMiddleware("secret-key-0001", BASE)
    request = api_request()
    auth.process_request(request)
    response = auth.process_response(request, respond(request, 503, b""))
    retry = middleware.process_response(request, response)
    assert b"Authorization" not in retry.headers
    assert "secret-key-0001" not in json.dumps(retry.to_dict(), default=str)
