"""``scrapy crawl fundamentals`` end to end against the sandbox over loopback HTTP: what it
writes, that it matches what the sandbox served, that a re-run changes nothing, that the v1 →
vX fallback works and that the key never leaks."""

import json
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from scrapy.utils.project import get_project_settings

from screener_crawler.commands.crawl import crawl_refusal
from screener_crawler.datasets import DATASETS
from screener_crawler.polygon.fields import STATEMENTS, V1_TIMEFRAMES, VX_CONCEPTS
from screener_crawler.sandbox import SandboxProcess
from screener_crawler.spiders.fundamentals import FundamentalsSpider
from tests.crawl import comparable_rows, read_dataset, run_crawl, sandbox_env

FULL_KEY = "it-full-plan-key-7f3a9c2e"
BASIC_KEY = "it-basic-plan-key-51d0b8aa"
TICKERS = ["AAPL", "MSFT"]
EASTERN = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def sandbox():
    with SandboxProcess(universe_size=300, delisted=30, keys=[FULL_KEY], basic_keys=[BASIC_KEY]) as sb:
        yield sb


def fetch_all(sandbox, path, key=FULL_KEY):
    """Every record of a listing, following next_url the way a client would."""
    url, records = sandbox.url + path, []
    while url:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
        records += payload.get("results") or []
        url = payload.get("next_url")
    return records


def universe_tickers(sandbox, count):
    return [r["ticker"] for r in fetch_all(sandbox, f"/v3/reference/tickers?active=true&limit={count}")][:count]


def crawl(sandbox, data_dir, tickers, key=FULL_KEY, **settings):
    result = run_crawl("fundamentals", ("tickers", ",".join(tickers)),
                       env=sandbox_env(sandbox, data_dir, key),
                       settings={"POLYGON_RATE_LIMIT": 0, **settings})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def tickers(sandbox):
    others = [t for t in universe_tickers(sandbox, 12) if t not in TICKERS]
    return TICKERS + others[:10]


@pytest.fixture(scope="module")
def v1_run(sandbox, tickers, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("v1")
    result = crawl(sandbox, data_dir, tickers, POLYGON_TICKERS_PER_REQUEST=5, POLYGON_PAGE_SIZE=40)
    return data_dir, result


@pytest.fixture(scope="module")
def vx_run(sandbox, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("vx")
    return data_dir, crawl(sandbox, data_dir, TICKERS, key=BASIC_KEY, JOBDIR=data_dir / "jobdir")


@pytest.mark.parametrize("dataset", STATEMENTS)
@pytest.mark.parametrize("ticker", TICKERS)
def test_crawl_writes_each_tickers_rows_into_hive_partitions(v1_run, dataset, ticker):
    data_dir, _ = v1_run
    files = list((data_dir / dataset).glob("year=*/month=*/part-0.parquet"))
    tickers = {t for path in files for t in pq.read_table(path, columns=["ticker"]).column("ticker").to_pylist()}
    assert ticker in tickers, f"no {dataset} rows for {ticker}"


@pytest.mark.parametrize("dataset, endpoint", [
    ("balance_sheets", "balance-sheets"),
    ("income_statements", "income-statements"),
    ("cash_flow", "cash-flow-statements"),
])
def test_rows_hold_what_the_sandbox_served(sandbox, v1_run, tickers, dataset, endpoint):
    data_dir, _ = v1_run
    served = fetch_all(sandbox, f"/stocks/financials/v1/{endpoint}?tickers.any_of={','.join(tickers)}&limit=50000")
    expected = {}
    for record in served:
        for ticker in record["tickers"]:
            if ticker in tickers:
                expected[(ticker, record["timeframe"], record["period_end"], record["filing_date"])] = record
    rows = read_dataset(data_dir, dataset).to_pylist()
    assert len(rows) == len(expected)
    for row in rows:
        record = expected[(row["ticker"], row["timeframe"], row["period_end"].isoformat(), row["filing_date"].isoformat())]
        for column, value in record.items():
            if column in ("tickers", "cik", "period_end", "filing_date"):
                continue
            assert row[column] == value, (row["ticker"], column)
        assert row["source"] == "v1"


def test_a_second_run_leaves_identical_rows(sandbox, v1_run, tickers):
    data_dir, _ = v1_run
    before = {d: comparable_rows(read_dataset(data_dir, d)) for d in STATEMENTS}
    crawl(sandbox, data_dir, tickers)
    after = {d: comparable_rows(read_dataset(data_dir, d)) for d in STATEMENTS}
    assert before == after
    assert all(before.values())


@pytest.mark.parametrize("dataset", STATEMENTS)
def test_every_file_of_a_dataset_has_the_one_declared_schema(v1_run, dataset):
    data_dir, _ = v1_run
    schemas = {pq.read_schema(path).remove_metadata() for path in (data_dir / dataset).rglob("*.parquet")}
    assert schemas == {DATASETS[dataset].schema}


@pytest.mark.parametrize("dataset", STATEMENTS)
def test_polars_and_duckdb_read_every_dataset(v1_run, dataset):
    data_dir, _ = v1_run
    pattern = str(data_dir / dataset / "*" / "*" / "*.parquet")
    expected = read_dataset(data_dir, dataset).num_rows
    assert pl.scan_parquet(pattern, hive_partitioning=True).collect().height == expected
    count = duckdb.sql(f"SELECT count(*) FROM read_parquet('{pattern}', hive_partitioning = true)").fetchall()[0][0]
    assert count == expected


def test_field_coverage_is_reported_in_the_stats(v1_run):
    _, result = v1_run
    assert result.stats["fields_coverage/balance_sheets"]["total_assets"] == "100.0%"


def test_key_never_appears_in_logs_files_or_jobdir(v1_run, vx_run):
    assert any((vx_run[0] / "jobdir").rglob("*"))
    for data_dir, result in (v1_run, vx_run):
        key = FULL_KEY if data_dir == v1_run[0] else BASIC_KEY
        assert key not in result.stdout + result.stderr
        for path in Path(data_dir).rglob("*"):
            if path.is_file():
                assert key.encode() not in path.read_bytes(), path


def test_plan_without_v1_falls_back_to_vx_once(vx_run):
    _, result = vx_run
    assert result.stderr.count("does not include") == 1
    assert result.stats["plan/not_entitled/financials_v1"] >= 1


@pytest.mark.parametrize("dataset", STATEMENTS)
def test_fallback_writes_the_same_datasets_from_vx(sandbox, vx_run, dataset):
    data_dir, _ = vx_run
    rows = read_dataset(data_dir, dataset).to_pylist()
    assert {row["ticker"] for row in rows} == set(TICKERS)
    assert {row["source"] for row in rows} == {"vX"}
    assert {row["timeframe"] for row in rows} == set(V1_TIMEFRAMES[dataset])


def test_fallback_values_are_what_vx_served(sandbox, vx_run):
    data_dir, _ = vx_run
    served = {}
    for timeframe in ("quarterly", "annual", "ttm"):
        for record in fetch_all(sandbox, f"/vX/reference/financials?ticker=AAPL&timeframe={timeframe}&limit=100", key=BASIC_KEY):
            served[(record["end_date"], record["filing_date"], timeframe)] = record
    rows = [r for r in read_dataset(data_dir, "balance_sheets").to_pylist() if r["ticker"] == "AAPL"]
    spelled = {"quarterly": "quarterly", "annual": "annual", "trailing_twelve_months": "ttm"}
    assert len(rows) == len({k for k in served if k[2] != "ttm"})
    for row in rows:
        record = served[(row["period_end"].isoformat(), row["filing_date"].isoformat(), spelled[row["timeframe"]])]
        for concept, point in record["financials"]["balance_sheet"].items():
            assert row[VX_CONCEPTS["balance_sheet"][concept]] == point["value"], concept


@pytest.mark.parametrize("dataset", STATEMENTS)
def test_fallback_rows_keep_the_source_filing_vx_served(sandbox, vx_run, dataset):
    data_dir, _ = vx_run
    served = {(record["end_date"], record["filing_date"], record["fiscal_period"]): record
              for timeframe in ("quarterly", "annual")
              for record in fetch_all(sandbox, f"/vX/reference/financials?ticker=MSFT&timeframe={timeframe}&limit=100",
                                      key=BASIC_KEY)}
    rows = [r for r in read_dataset(data_dir, dataset).to_pylist()
            if r["ticker"] == "MSFT" and r["timeframe"] != "trailing_twelve_months"]
    assert rows and len(rows) == len(served)
    for row in rows:
        record = served[(row["period_end"].isoformat(), row["filing_date"].isoformat(), row["fiscal_period"])]
        assert (row["sic"], row["source_filing_url"], row["source_filing_file_url"]) == \
            (record["sic"], record["source_filing_url"], record["source_filing_file_url"])
        accepted = datetime.strptime(record["acceptance_datetime"], "%Y%m%d%H%M%S").replace(tzinfo=EASTERN)
        assert row["acceptance_datetime"] == accepted


def test_fallback_agrees_with_v1_on_annual_statements(v1_run, vx_run):
    def annual(data_dir, column):
        return {(r["ticker"], r["period_end"]): r[column]
                for r in read_dataset(data_dir, "income_statements").to_pylist()
                if r["timeframe"] == "annual" and r["ticker"] in TICKERS}
    for column in ("revenue", "consolidated_net_income_loss", "diluted_shares_outstanding"):
        assert annual(vx_run[0], column) == annual(v1_run[0], column)


def test_unknown_key_stops_the_crawl_with_one_clear_message(sandbox, tmp_path):
    result = run_crawl("fundamentals", ("tickers", "AAPL,MSFT"),
                       env=sandbox_env(sandbox, tmp_path, "not-a-key-3b9e"))
    assert result.stderr.count("Polygon rejected the API key") == 1
    assert result.stats["finish_reason"] == "api_key_rejected"
    assert "not-a-key-3b9e" not in result.stdout + result.stderr
    assert not any(tmp_path.rglob("*.parquet"))


@pytest.mark.parametrize("argument, message", [
    (("tickers", "AAPL,../x"), "not a ticker symbol: '../X'"),
    (("tickers", "a/b"), "not a ticker symbol: 'A/B'"),
    (("tickers", ","), "-a tickers= is empty"),
    (("tickers", "A" * 50), "not a ticker symbol"),
    (("datasets", "nope"), "unknown dataset 'nope'; this spider offers: balance_sheets"),
    (("force", "maybe"), "-a force= takes 1 or 0, not 'maybe'"),
])
def test_bad_argument_is_refused_with_one_line_before_any_request(tmp_path, argument, message):
    # in-process, through what ``scrapy crawl`` calls (the whole command: tests/test_bad_input.py)
    settings = get_project_settings().copy()
    settings.set("SCREENER_DATA_DIR", str(tmp_path), priority="cmdline")
    assert message in crawl_refusal(FundamentalsSpider, dict([argument]), settings)
