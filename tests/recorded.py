"""Helpers that turn recorded Polygon responses (tests/fixtures/polygon, and the fixtures of each
spider family in tests/fixtures/<family>) into Scrapy responses, as the spiders receive them, and
build a spider the way Scrapy does, without an engine or a reactor, to feed them to."""

import json
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from scrapy.http import Request, TextResponse
from scrapy.utils.test import get_crawler

from screener_crawler import settings as project_settings
from screener_crawler.datasets import DATASETS
from screener_crawler.items import RecordBatch

FIXTURE_ROOT = Path(__file__).parent / "fixtures"
FIXTURES = FIXTURE_ROOT / "polygon"
BASE = "http://127.0.0.1:1"
"""The configured host of the spiders built here; nothing listens there."""


def recorded_json(name):
    return json.loads((FIXTURES / name).read_text())


def recorded_response(name, url="http://127.0.0.1:1/recorded", meta=None):
    request = Request(url, meta=meta or {})
    return TextResponse(url, body=(FIXTURES / name).read_bytes(), encoding="utf-8", request=request)


def open_spider(spider_class, tmp_path=None, settings=None, **arguments):
    """A spider built by its crawler with the project's settings, ``POLYGON_BASE_URL`` = ``BASE``
    and ``settings``, its stats open; with ``tmp_path``, its data root and ledger are there."""
    values = {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}
    values["POLYGON_BASE_URL"] = BASE
    if tmp_path is not None:
        values.update(SCREENER_DATA_DIR=str(tmp_path / "data"), SCREENER_PROGRESS_FILE=str(tmp_path / "progress.json"))
    values.update(settings or {})
    crawler = get_crawler(spider_class, values)
    crawler.spider = spider = crawler._create_spider(**arguments)
    crawler.stats.open_spider()
    return spider


def answer(request, fixture):
    """The response to ``request`` whose body is the recorded ``fixture`` (a path under
    tests/fixtures, like ``universe/tickers_v3_active_false__sandbox.json``)."""
    return TextResponse(request.url, body=(FIXTURE_ROOT / fixture).read_bytes(), encoding="utf-8", request=request)


def fixture_json(fixture):
    return json.loads((FIXTURE_ROOT / fixture).read_text())


def feed(request, fixture):
    """What ``request``'s callback yields when the server answers it with ``fixture``."""
    return list(request.callback(answer(request, fixture)))


def path_and_query(request):
    """(path, {parameter: value}) of a request's URL, its host checked to be the configured one."""
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE, request.url
    return parts.path, {name: value for name, [value] in parse_qs(parts.query).items()}


def records_of(items, dataset=None):
    """The records of a callback's output (of ``dataset`` when given), out of their page batches
    (a batch read by a page reader holds a table: its dates are given back as the API's strings,
    its missing values left out); every record holds only columns of its batch's dataset."""
    found = []
    for item in items:
        if isinstance(item, RecordBatch) and dataset in (None, item.dataset):
            rows = item.records if item.table is None else [
                {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items() if v is not None}
                for row in item.table.to_pylist()]
            for record in rows:
                unknown = set(record) - set(DATASETS[item.dataset].columns)
                assert not unknown, unknown
                found.append(record)
    return found


def served_records(fixture, dataset, **extra):
    """The recording's ``results`` as rows of ``dataset``: the fields its schema has, as served,
    and ``extra``."""
    columns = DATASETS[dataset].column_set
    return [{**{key: value for key, value in record.items() if key in columns}, **extra}
            for record in fixture_json(fixture)["results"]]


def handed_to_start(spider):
    """What the universe's listing has handed to ``start`` so far: [] before its last page,
    [tickers] after it, [None] when it failed."""
    results = []
    spider._universe_listed.addBoth(results.append)
    return results
