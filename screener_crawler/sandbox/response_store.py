"""Answers of the sandbox kept on disk and served again when the same request comes back.

The sandbox generates its synthetic market on demand, in Python, on the machine that runs the
crawl, so a benchmark of the crawl also measures that generation, which a real API does on its
own servers. A benchmark that measures the crawl alone points the sandbox at a store
(``--response-store DIR``): the first run fills it, later runs are answered from it.

Only successful answers are kept, keyed by the market (size, delisted, seed, as-of date) and the
request (path and query, the API key removed). A kept answer is the exact payload the sandbox
generated, with its own address and ``request_id`` replaced by markers that are filled in again
when it is served (fresh request ids, this server's address in ``next_url``). Faults, latency,
rate limits and authentication apply as to any answer.
"""

import hashlib
import re
from pathlib import Path

from screener_crawler.storage.atomic import write_bytes_atomically

from .responses import request_id

_BASE_MARKER = b"\x00base\x00"
_REQUEST_ID = re.compile(rb'"request_id":"[0-9a-f]{32}"')
_REQUEST_ID_MARKER = b'"request_id":"\x00id\x00"'


class ResponseStore:
    def __init__(self, directory: Path | str, market_identity: str):
        self.directory = Path(directory) / hashlib.sha256(market_identity.encode()).hexdigest()[:16]
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, path: str, params: dict) -> Path:
        query = "&".join(f"{name}={value}" for name, value in sorted(params.items()))
        digest = hashlib.sha256(f"{path}?{query}".encode()).hexdigest()
        return self.directory / digest[:2] / f"{digest[2:]}.json"

    def get(self, path: str, params: dict, base_url: str) -> bytes | None:
        """The kept payload of this request as served from ``base_url``, or None."""
        try:
            kept = self._path(path, params).read_bytes()
        except FileNotFoundError:
            return None
        served = kept.replace(_BASE_MARKER, base_url.encode())
        return served.replace(_REQUEST_ID_MARKER, b'"request_id":"%s"' % request_id().encode(), 1)

    def put(self, path: str, params: dict, base_url: str, payload: bytes) -> None:
        kept = _REQUEST_ID.sub(_REQUEST_ID_MARKER, payload, count=1).replace(base_url.encode(), _BASE_MARKER)
        write_bytes_atomically(self._path(path, params), kept)
