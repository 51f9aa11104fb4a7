"""``-a shard=K/N``: N stable, disjoint parts of the universe that together cover it, refused
with one clear line when malformed, honoured by ``-a tickers=`` and by a crawl of the universe."""

import json
import os
import random
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from scrapy.utils.test import get_crawler

from screener_crawler.sharding import Shard, shard_number
from screener_crawler.spiders.arguments import SpiderArgumentError
from screener_crawler.spiders.fundamentals import FundamentalsSpider
from screener_crawler.spiders.related_tickers import RelatedTickersSpider
from screener_crawler.spiders.screener import ScreenerSpider
from screener_crawler.sandbox import SandboxProcess
from tests.crawl import PROJECT_ROOT, read_dataset, run_crawl

TICKERS = [f"{a}{b}{c}" for a in "ABCDEFGHIJ" for b in "KLMNOPQRST" for c in "UVWXY"]
"""500 symbols."""
REFUSED = "-a shard= takes K/N, the K-th of N parts with 1 <= K <= N (like 2/4), not "

BAD_SHARDS = [
    # id, -a shard= value
    ("zero", "0/4"),
    ("beyond-count", "5/4"),
    ("no-parts", "0/0"),
    ("negative", "-1/4"),
    ("no-slash", "2"),
    ("words", "first/four"),
    ("empty", ""),
    ("fraction", "1.5/4"),
]


@pytest.mark.parametrize("value", [case[1] for case in BAD_SHARDS], ids=[case[0] for case in BAD_SHARDS])
@pytest.mark.parametrize("spider", [FundamentalsSpider, ScreenerSpider, RelatedTickersSpider])
def test_a_malformed_shard_is_refused_with_a_line_that_says_what_is_accepted(spider, value):
    with pytest.raises(SpiderArgumentError) as refused:
        spider.parse_arguments(tickers="AAPL", shard=value)
    assert str(refused.value) == REFUSED + repr(value)


def test_a_shard_argument_is_read_as_k_of_n():
    shard = ScreenerSpider.parse_arguments(shard=" 3 / 8 ").shard
    assert shard == Shard(3, 8)
    assert ScreenerSpider.parse_arguments().shard is None


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_shards_are_disjoint_and_together_hold_every_ticker(count):
    parts = [Shard(number, count).select(TICKERS) for number in range(1, count + 1)]
    assert sorted(t for part in parts for t in part) == sorted(TICKERS)
    assert all(len(part) > len(TICKERS) / count / 2 for part in parts)


def test_a_tickers_shard_depends_neither_on_the_universe_order_nor_on_its_size():
    shard = Shard(2, 5)
    shuffled = random.Random(7).sample(TICKERS, len(TICKERS))
    grown = [*TICKERS, *(f"Z{n}" for n in range(300))]
    assert set(shard.select(shuffled)) == set(shard.select(TICKERS)) == set(shard.select(grown)) & set(TICKERS)


def test_a_tickers_shard_is_the_same_in_another_process():
    """Python salts ``hash()`` of strings per process; the shard must not move with it."""
    code = ("import json, sys; from screener_crawler.sharding import shard_number; "
            "print(json.dumps([shard_number(t, 7) for t in json.load(sys.stdin)]))")
    other = subprocess.run([sys.executable, "-c", code], input=json.dumps(TICKERS), capture_output=True, text=True,
                           cwd=PROJECT_ROOT, env={**os.environ, "PYTHONHASHSEED": "12345"}, check=True)
    assert json.loads(other.stdout) == [shard_number(t, 7) for t in TICKERS]


def test_a_shard_of_the_tickers_given_requests_only_its_own(tmp_path):
    given = TICKERS[:40]
    crawler = get_crawler(FundamentalsSpider, {"POLYGON_BASE_URL": "http://127.0.0.1:1", "POLYGON_TICKERS_PER_REQUEST": 5,
                                               "SCREENER_PROGRESS_FILE": str(tmp_path / "progress.json")})
    crawler.stats.open_spider()
    spider = FundamentalsSpider.from_crawler(crawler, tickers=",".join(given), shard="2/3",
                                             datasets="balance_sheets")
    spider.plan_crawl()
    requested = [ticker for request in spider.unit_requests() for _, ticker in request.meta["polygon_units"]]
    assert requested == Shard(2, 3).select(given)
    assert 0 < len(requested) < len(given)
    assert spider.tickers == requested


def test_a_sharded_crawl_of_the_universe_writes_only_its_shards_tickers(tmp_path):
    with SandboxProcess(universe_size=30, delisted=3, keys=["shard-test-key"]) as sandbox:
        result = run_crawl("related_tickers", ("shard", "2/3"), settings={"POLYGON_RATE_LIMIT": 0},
                           env={"POLYGON_BASE_URL": sandbox.url, "POLYGON_API_KEY": "shard-test-key",
                                "SCREENER_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    universe = sorted(set(pq.read_table(tmp_path / "universe" / "universe.parquet").column("ticker").to_pylist()))
    assert len(universe) == 33  # the listings of 33 symbols, two of them held by two companies each
    mine = Shard(2, 3).select(universe)
    assert 0 < len(mine) < len(universe)
    written = set(read_dataset(tmp_path, "related_tickers").column("ticker").to_pylist())
    assert written and written <= set(mine)  # a ticker may have no related companies
    ledger = json.loads((tmp_path / "download_progress.json").read_text())
    assert sorted(ledger["completed"]) == sorted(mine) and ledger["total_tickers"] == len(mine)
    assert f"Shard 2/3: {len(mine)} of 33 tickers" in result.stderr
