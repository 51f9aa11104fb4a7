"""``scrapy crawl`` refuses bad settings and places it cannot write with one clear line and exit
code 2, before anything starts: no spider opened, no request, nothing written. (Bad spider
arguments: tests/test_crawl_fundamentals.py.)"""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from scrapy.utils.project import get_project_settings

from screener_crawler.commands.crawl import crawl_refusal
from screener_crawler.spiders.fundamentals import FundamentalsSpider
from tests.crawl import run_crawl

CLOSED_PORT = "http://127.0.0.1:9"
RATE = "POLYGON_RATE_LIMIT must be a number, 0 or more (requests per second; 0 = no cap, free plan 0.083), not "
CONCURRENCY = "CONCURRENT_REQUESTS must be a whole number, 1 or more (requests in flight at once), not "
WRITE_A_FOLDER = "set SCREENER_DATA_DIR to a folder you can write"

BAD_INPUTS = [
    # id, -a arguments, -s settings, environment, the error line
    ("rate-negative", (), {"POLYGON_RATE_LIMIT": "-1"}, {}, RATE + "'-1'"),
    ("rate-not-a-number", (), {"POLYGON_RATE_LIMIT": "ten"}, {}, RATE + "'ten'"),
    ("rate-not-a-number-in-env", (), {}, {"POLYGON_RATE_LIMIT": "fast"}, RATE + "'fast'"),
    ("rate-nan", (), {"POLYGON_RATE_LIMIT": "nan"}, {}, RATE + "'nan'"),
    ("concurrency-zero", (), {"CONCURRENT_REQUESTS": "0"}, {}, CONCURRENCY + "'0'"),
    ("concurrency-negative", (), {"CONCURRENT_REQUESTS": "-4"}, {}, CONCURRENCY + "'-4'"),
    ("concurrency-not-a-number", (), {"CONCURRENT_REQUESTS": "many"}, {}, CONCURRENCY + "'many'"),
    ("concurrency-fraction", (), {"CONCURRENT_REQUESTS": "2.5"}, {}, CONCURRENCY + "'2.5'"),
    ("items-zero", (), {"CONCURRENT_ITEMS": "0"}, {},
     "CONCURRENT_ITEMS must be a whole number, 1 or more (items of one response in the pipelines at once), not '0'"),
    ("retries-negative", (), {"RETRY_TIMES": "-1"}, {},
     "RETRY_TIMES must be a whole number, 0 or more (retries of a failed request), not '-1'"),
    ("beside-leading-negative", (), {"SCREENER_REQUESTS_BESIDE_LEADING": "-1"}, {},
     "SCREENER_REQUESTS_BESIDE_LEADING must be a whole number, 0 or more "
     "(other requests after each of the ratio inputs' batches), not '-1'"),
    ("jitter-above-one", (), {"BACKOFF_JITTER": "2"}, {},
     "BACKOFF_JITTER must be a number between 0 and 1 (the share of a wait that is random), not '2'"),
    ("arrow-pool-unknown", (), {"ARROW_MEMORY_POOL": "tcmalloc"}, {},
     "ARROW_MEMORY_POOL must be one of system, mimalloc, jemalloc or empty (Arrow's default), not 'tcmalloc'"),
    *[(f"background-niceness-{name}", (), {"SCREENER_BACKGROUND_NICENESS": value}, {},
       "SCREENER_BACKGROUND_NICENESS must be a whole number from 0 to 19 (how much nicer than the crawl "
       f"publishing and the ratio pass run) or empty, not {value!r}")
      for name, value in (("above-19", "20"), ("negative", "-1"), ("not-a-number", "ten"))],
    ("data-dir-is-a-file", (), {}, {"SCREENER_DATA_DIR": "{file}"},
     "the data directory {file} cannot be written (it is a file); " + WRITE_A_FOLDER),
    ("data-dir-under-a-file", (), {}, {"SCREENER_DATA_DIR": "{file}/data"},
     "the data directory {file}/data cannot be written (not a directory); " + WRITE_A_FOLDER),
    ("ledger-is-a-folder", (), {"SCREENER_PROGRESS_FILE": "{tmp}"}, {},
     "the ledger {tmp} is a folder; set SCREENER_PROGRESS_FILE to a file name"),
    ("jobdir-under-a-file", (), {"JOBDIR": "{file}/job"}, {},
     "the job directory {file}/job cannot be written (not a directory); set JOBDIR to a folder you can write"),
    ("refill-path", (("refill", "../x"),), {}, {},
     "not a ticker symbol: '../X' (expected letters and digits with an optional class suffix, like BRK.B)"),
    ("datasets-empty", (("datasets", ","),), {}, {}, "unknown dataset (none given); this spider offers: balance_sheets, income_statements, cash_flow"),
    ("shard-beyond-count", (("shard", "5/4"),), {}, {},
     "-a shard= takes K/N, the K-th of N parts with 1 <= K <= N (like 2/4), not '5/4'"),
]


SUBPROCESS_CASES = ("rate-not-a-number-in-env", "concurrency-zero", "refill-path")
"""The cases also run as a real ``scrapy crawl`` (an environment variable, a ``-s`` setting, an
``-a`` argument): exit code 2, the line last, nothing started. The rest of the table is checked
in-process, through the same ``crawl_refusal`` the command calls."""


def fill(value, folder):
    return value.replace("{file}", str(folder / "a-file")).replace("{tmp}", str(folder))


def prepared(folder):
    (folder / "a-file").write_text("not a folder")
    return folder


def refuse(case, folder):
    """Run the crawl of one bad input in its own folder (which holds a regular file, ``a-file``)."""
    _, arguments, settings, env, _ = case
    environment = {"POLYGON_BASE_URL": CLOSED_PORT, "POLYGON_API_KEY": "bad-input-key",
                   "SCREENER_DATA_DIR": str(folder / "data"),
                   **{name: fill(value, folder) for name, value in env.items()}}
    return run_crawl("fundamentals", ("tickers", "AAPL"), *arguments, env=environment,
                     settings={name: fill(value, folder) for name, value in settings.items()}, timeout=120)


def refusal_in_process(case, folder):
    """What ``scrapy crawl fundamentals`` would refuse ``case`` with: the environment variables of
    the case are the settings of the same name (``settings.py`` reads them so)."""
    _, arguments, settings, env, _ = case
    crawl_settings = get_project_settings().copy()
    crawl_settings.setdict({"SCREENER_DATA_DIR": str(folder / "data"),
                            **{name: fill(value, folder) for name, value in {**env, **settings}.items()}},
                           priority="cmdline")
    return crawl_refusal(FundamentalsSpider, {"tickers": "AAPL", **dict(arguments)}, crawl_settings)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_refused_with_one_line(case, tmp_path):
    folder = prepared(tmp_path)
    assert refusal_in_process(case, folder) == fill(case[-1], folder)
    assert not any(path.suffix == ".parquet" for path in folder.rglob("*"))


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """The subprocess cases' crawls, run at once: (result, folder) by case id."""
    cases = [case for case in BAD_INPUTS if case[0] in SUBPROCESS_CASES]
    folders = {case[0]: prepared(tmp_path_factory.mktemp(case[0])) for case in cases}
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        results = {case[0]: pool.submit(refuse, case, folders[case[0]]) for case in cases}
    return {name: (future.result(), folders[name]) for name, future in results.items()}


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_scrapy_crawl_refuses_bad_input_with_exit_code_2_before_anything_starts(refusals, case_id):
    case = next(case for case in BAD_INPUTS if case[0] == case_id)
    result, folder = refusals[case_id]
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].endswith(f" error: {fill(case[-1], folder)}")
    assert "Traceback" not in result.stderr
    assert "Spider opened" not in result.stderr
    assert not any(path.suffix == ".parquet" for path in folder.rglob("*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_a_data_dir_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run_crawl("fundamentals", ("tickers", "AAPL"),
                       env={"POLYGON_BASE_URL": CLOSED_PORT, "POLYGON_API_KEY": "bad-input-key",
                            "SCREENER_DATA_DIR": str(locked / "data")}, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(
        f" error: the data directory {locked / 'data'} cannot be written (permission denied); " + WRITE_A_FOLDER)


def test_a_data_root_in_the_old_layout_is_refused_naming_scrapy_compact(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    old = tmp_path / "splits" / "year=2024" / "month=05" / "ticker=AAPL.parquet"
    old.parent.mkdir(parents=True)
    pq.write_table(pa.table({"ticker": ["AAPL"]}), old)
    result = run_crawl("screener", ("tickers", "AAPL"), env={"SCREENER_DATA_DIR": str(tmp_path)}, timeout=120)
    assert result.returncode != 0
    assert "scrapy compact" in result.stderr and "Traceback" not in result.stderr
    assert old.exists() and not (tmp_path / "_staging").exists()
