"""Helpers that turn the recorded Polygon responses in tests/fixtures/polygon into Scrapy
responses, as the spiders receive them."""

import json
from pathlib import Path

from scrapy.http import Request, TextResponse

FIXTURES = Path(__file__).parent / "fixtures" / "polygon"


def recorded_json(name):
    return json.loads((FIXTURES / name).read_text())


def recorded_response(name, url="http://127.0.0.1:1/recorded", meta=None):
    request = Request(url, meta=meta or {})
    return TextResponse(url, body=(FIXTURES / name).read_bytes(), encoding="utf-8", request=request)
