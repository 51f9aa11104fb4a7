"""A response body as JSON: orjson decodes a page in under half the time of the standard
library, on the reactor thread, where every millisecond holds the crawl up.

What orjson refuses and the standard library takes (``NaN``, ``Infinity``) is decoded by the
standard library instead, so such a page never becomes a failed unit. An integer wider than 64
bits comes back as a float, as any float64 column would store it; no int64 column can hold it
either way. A body neither can decode raises ``ValueError``.
"""

import json

import orjson


def decode_json(body):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)
