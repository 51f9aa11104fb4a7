"""Response bodies decoded as JSON (``polygon/payload.py``)."""

import json

import pytest

from screener_crawler.polygon.payload import decode_json


def test_a_page_decodes_to_the_same_values_as_the_json_module():
    body = (b'{"results":[{"ticker":"AAPL","revenue":394328000000,"eps":6.11,"cik":"0000320193",'
            b'"name":"Caf\\u00e9 \xc3\xa9","restated":false,"note":null}],"next_url":"http://x/?cursor=a%2Fb"}')
    assert decode_json(body) == json.loads(body)


@pytest.mark.parametrize("body", [b'{"ratio": NaN}', b'{"ratio": -Infinity}'])
def test_what_only_the_json_module_takes_is_still_decoded(body):
    assert decode_json(body) == json.loads(body)


@pytest.mark.parametrize("body", [b'{"results": [{"ticker": "AA', b"<html>502 Bad Gateway</html>", b"\xff\xfe{}"])
def test_a_body_that_is_not_json_raises_value_error(body):
    with pytest.raises(ValueError):
        decode_json(body)
