"""bench/ci_tests.py reads pytest's own summary line."""

import subprocess
import sys

import pytest

from tests.bench_module import load_bench


@pytest.fixture(scope="module")
def ci_tests():
    return load_bench("ci_tests")


def test_the_summary_of_a_real_pytest_run_is_read(ci_tests, tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n"
        "def test_passes(): pass\n"
        "def test_passes_too(): pass\n"
        "@pytest.mark.skip(reason='sample')\n"
        "def test_skipped(): pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True)
    outcome, seconds = ci_tests.pytest_summary(done.stdout)
    assert outcome == "2 passed, 1 skipped"
    assert 0 <= seconds < 600


def test_output_without_a_summary_gives_none(ci_tests):
    assert ci_tests.pytest_summary("collected 0 items\nerror: no such file\n") is None
