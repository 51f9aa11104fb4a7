"""The sandbox HTTP server: loopback only, HTTP/1.1 keep-alive, auth, rate limit, faults, latency."""

import itertools
import random
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .market import DEFAULT_AS_OF, DEFAULT_DELISTED, DEFAULT_SEED, DEFAULT_SIZE, SyntheticMarket
from .response_store import ResponseStore
from .responses import PolygonApi, request_id, to_json

SANDBOX_API_KEY = "sandbox-full-plan"
SANDBOX_BASIC_KEY = "sandbox-basic-plan"
HOST = "127.0.0.1"

_NGINX_PAGE = ("<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}"
               "</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n")
_GATEWAY_ERRORS = ((502, "Bad Gateway"), (503, "Service Temporarily Unavailable"), (504, "Gateway Time-out"))


@dataclass
class SandboxOptions:
    """Every knob of the sandbox; the CLI flags and ``SandboxProcess`` kwargs mirror these names."""

    port: int = 0
    universe_size: int = DEFAULT_SIZE
    delisted: int = DEFAULT_DELISTED
    seed: int = DEFAULT_SEED
    as_of: date = DEFAULT_AS_OF
    history_start: str = ""
    turnover: float = 1.0
    latency_ms: float = 0.0
    rate_limit: float = 0.0
    fault_5xx: float = 0.0
    fault_truncated: float = 0.0
    fault_reset: float = 0.0
    fault_stall: float = 0.0
    stall_seconds: float = 30.0
    fault_429: float = 0.0
    retry_after: int = 1
    throttle_seconds: float = 0.0
    fault_seed: int = 0
    request_log: str = ""
    response_store: str = ""
    keys: list = field(default_factory=list)
    basic_keys: list = field(default_factory=list)


class RateLimiter:
    """At most ``rate`` requests per second per key (sliding one-second window)."""

    def __init__(self, rate):
        self.rate = rate
        self._hits = {}
        self._lock = threading.Lock()

    def admit(self, key):
        """None if admitted, else the seconds to wait."""
        if self.rate <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            hits = [t for t in self._hits.get(key, ()) if now - t < 1.0]
            if len(hits) >= self.rate:
                self._hits[key] = hits
                return max(1, int(1.0 - (now - hits[0])) + 1)
            hits.append(now)
            self._hits[key] = hits
            return None


class FaultDice:
    """Draws at most one fault per request, reproducibly for a given ``fault_seed``."""

    def __init__(self, options):
        self._rng = random.Random(options.fault_seed)
        self._lock = threading.Lock()
        self._gateway_errors = itertools.cycle(_GATEWAY_ERRORS)
        self._table = [("reset", options.fault_reset), ("stall", options.fault_stall),
                       ("5xx", options.fault_5xx), ("truncated", options.fault_truncated),
                       ("429", options.fault_429)]

    def gateway_error(self):
        """(code, reason) of a 5xx fault: 502, 503 and 504 in turn, so that the kinds a crawl
        meets do not depend on the order its requests arrive in."""
        with self._lock:
            return next(self._gateway_errors)

    def draw(self):
        with self._lock:
            x = self._rng.random()
        for name, rate in self._table:
            if x < rate:
                return name
            x -= rate
        return None


def market_identity(options: SandboxOptions) -> str:
    """What the synthetic market's answers depend on."""
    identity = f"size={options.universe_size} delisted={options.delisted} seed={options.seed} as_of={options.as_of}"
    identity += f" history_start={options.history_start}" if options.history_start else ""
    return identity + (f" turnover={options.turnover}" if options.turnover != 1.0 else "")


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, options):
        self.options = options
        self.market = SyntheticMarket(size=options.universe_size, delisted=options.delisted,
                                      seed=options.seed, as_of=options.as_of,
                                      history_start=date.fromisoformat(options.history_start)
                                      if options.history_start else None, turnover=options.turnover)
        self.api = PolygonApi(self.market)
        self.store = ResponseStore(options.response_store, market_identity(options)) if options.response_store else None
        self.full_keys = {SANDBOX_API_KEY, *options.keys}
        self.basic_keys = {SANDBOX_BASIC_KEY, *options.basic_keys}
        self.limiter = RateLimiter(options.rate_limit)
        self.faults = FaultDice(options)
        self._first_request_at = None
        self._lock = threading.Lock()
        self._request_log = open(options.request_log, "a", buffering=1) if options.request_log else None
        super().__init__((HOST, options.port), SandboxHandler)

    def throttling(self):
        """Whether every request is still answered 429: the first ``throttle_seconds`` after
        the first request."""
        now = time.monotonic()
        with self._lock:
            if self._first_request_at is None:
                self._first_request_at = now
        return now - self._first_request_at < self.options.throttle_seconds

    def log_request(self, arrived, outcome, path):
        """One line per request in ``request_log``: arrival (Unix time), outcome, path without
        its query (which may hold an ``apiKey``)."""
        if self._request_log is not None:
            with self._lock:
                if not self._request_log.closed:
                    self._request_log.write(f"{arrived:.6f} {outcome} {urlsplit(path).path}\n")

    @property
    def url(self):
        return f"http://{HOST}:{self.server_address[1]}"

    def server_close(self):
        super().server_close()
        if self._request_log is not None:
            with self._lock:
                self._request_log.close()

    def handle_error(self, request, client_address):
        """Clients hanging up (a crawl killed or stopped mid-request) are normal here; anything
        else is reported as usual."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format, *args):
        """Silent: request lines may carry ``apiKey``, which must never be logged."""

    def do_GET(self):
        arrived = time.time()
        outcome = self._serve()
        self.server.log_request(arrived, outcome, self.path)

    def _serve(self):
        """Answer the request; what was answered (a status, ``reset`` or ``stall``)."""
        opts = self.server.options
        if opts.latency_ms:
            time.sleep(opts.latency_ms / 1000.0)
        fault = self.server.faults.draw()
        if fault == "reset":
            self._reset()
            return "reset"
        if fault == "stall":
            time.sleep(opts.stall_seconds)
            self.close_connection = True
            return "stall"
        if fault == "5xx":
            code, reason = self.server.faults.gateway_error()
            body = _NGINX_PAGE.format(code=code, reason=reason).encode()
            self._send(code, body, "text/html")
            return code

        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        key = params.pop("apiKey", None)
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            key = auth[7:].strip()
        status, payload, headers = self._answer(parts.path, params, key, throttle=fault == "429")
        if fault == "truncated" and status == 200:
            self._send(200, payload[: max(1, len(payload) // 2)], "application/json",
                       declared_length=len(payload) // 2 or 1)
            return "truncated"
        self._send(status, payload, "application/json", headers)
        return status

    def _answer(self, path, params, key, throttle=False):
        """(status, payload, headers) of a request that drew no connection fault."""
        status, body, headers = self._api_answer(path, params, key, throttle)
        return status, body if isinstance(body, bytes) else to_json(body), headers

    def _api_answer(self, path, params, key, throttle):
        server = self.server
        if not key:
            return 401, {"status": "ERROR", "request_id": request_id(), "error": "API Key was not provided"}, {}
        if key not in server.full_keys and key not in server.basic_keys:
            return 401, {"status": "ERROR", "request_id": request_id(), "error": "Unknown API Key"}, {}
        if server.throttling() or throttle:
            throttle, wait = True, server.options.retry_after or None
        else:
            wait = server.limiter.admit(key)
            throttle = wait is not None
        if throttle:
            return 429, {"status": "ERROR", "request_id": request_id(),
                         "error": "You've exceeded the maximum requests per minute, please wait or upgrade "
                                  "your subscription to continue. https://polygon.io/pricing"}, \
                {"Retry-After": str(wait)} if wait else {}
        if key not in server.full_keys and not server.api.basic_key_may_call(path):
            return 403, {"status": "NOT_AUTHORIZED", "request_id": request_id(),
                         "message": "You are not entitled to this data. Please upgrade your plan at "
                                    "https://polygon.io/pricing"}, {}
        base_url = "http://" + (self.headers.get("Host") or f"{HOST}:{server.server_address[1]}")
        if server.store is not None and (kept := server.store.get(path, params, base_url)) is not None:
            return 200, kept, {}
        status, body = server.api.handle(path, params, base_url)
        if server.store is not None and status == 200:
            payload = to_json(body)
            server.store.put(path, params, base_url, payload)
            return status, payload, {}
        return status, body, {}

    def _send(self, status, payload, content_type, headers=None, declared_length=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type + ("; charset=utf-8" if "json" in content_type else ""))
            self.send_header("Content-Length", str(declared_length if declared_length is not None else len(payload)))
            self.send_header("X-Request-ID", request_id())
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _reset(self):
        """Abort the connection with a TCP RST (SO_LINGER 0)."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True
