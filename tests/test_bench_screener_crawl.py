"""The crawl benchmark's comparison with the baseline (``bench/screener_crawl.py``)."""

import argparse
import json

import pytest

from tests.bench_module import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("screener_crawl")


def options(crawl_result):
    return argparse.Namespace(universe_size=1000, delisted=0, plan="v1", latency_ms=20.0, cap=0.0, concurrency=16,
                              prices_start="2009-01-01", prices_end="2026-06-30", crawl_result=crawl_result)


def write_result(bench, path, **figures):
    args = options(path)
    path.write_text(json.dumps({**bench.measured_options(args), "wall_seconds": 900.0, **figures}))
    return args


def test_a_whole_earlier_crawl_is_taken_for_the_baseline_comparison(bench, tmp_path):
    args = write_result(bench, tmp_path / "whole.json", finish_reason="finished", baseline_wall_ratio=3.1)
    result = bench.earlier_crawl(args)
    assert result["wall_seconds"] == 900.0
    assert "baseline_wall_ratio" not in result


def test_an_earlier_crawl_stopped_by_stop_after_is_refused_for_the_baseline_comparison(bench, tmp_path):
    args = write_result(bench, tmp_path / "stopped.json", stopped_after_seconds=900.0, units_complete_pct=7.5)
    with pytest.raises(SystemExit) as refused:
        bench.earlier_crawl(args)
    assert "stopped after 900.0 s by --stop-after (7.5 % of its units)" in str(refused.value)


def test_an_earlier_crawl_stopped_from_outside_is_refused_for_the_baseline_comparison(bench, tmp_path):
    args = write_result(bench, tmp_path / "interrupted.json", stopped_after_seconds=None,
                        finish_reason="shutdown", units_complete_pct=99.6)
    with pytest.raises(SystemExit) as refused:
        bench.earlier_crawl(args)
    assert "finish_reason 'shutdown', not 'finished' (99.6 % of its units)" in str(refused.value)


def test_an_earlier_crawl_of_other_options_is_refused(bench, tmp_path):
    args = write_result(bench, tmp_path / "other.json")
    args.latency_ms = 50.0
    with pytest.raises(SystemExit) as refused:
        bench.earlier_crawl(args)
    assert "latency_ms" in str(refused.value)
