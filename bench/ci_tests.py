"""Benchmark: the README's test command on two commits, side by side, as CI runs it.

    python bench/ci_tests.py OLD_COMMIT NEW_COMMIT [--rounds 1] [--workdir DIR]

Each commit is cloned from this repository into its own folder and installed the README's way
(``python3 -m venv .venv``, ``pip install -r requirements.txt``; not timed). Then
``python -m pytest`` runs in each, alternating: OLD NEW, then NEW OLD in the next round, so
that a machine busier at one moment weighs on both. Prints each run's wall seconds, pytest's
own count and seconds, and the median of each side with their ratio. A run that fails is
reported and stops the benchmark.
"""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTEST_SUMMARY = re.compile(r"^=+ (.*) in ([0-9.]+)s(?: \([0-9:]+\))? =+$", re.MULTILINE)


def checkout(commit: str, folder: Path) -> Path:
    """A clone of this repository at ``commit`` in ``folder``, installed the README's way."""
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(folder)], check=True)
    subprocess.run(["git", "checkout", "--quiet", commit], cwd=folder, check=True)
    subprocess.run("python3 -m venv .venv && .venv/bin/pip install --quiet -r requirements.txt",
                   shell=True, cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return folder


def pytest_summary(output: str) -> tuple[str, float] | None:
    """pytest's last summary line in ``output``: what passed, failed or was skipped, and its
    seconds; None when there is none."""
    found = PYTEST_SUMMARY.findall(output)
    return (found[-1][0], float(found[-1][1])) if found else None


def run_tests(folder: Path) -> dict:
    """The README's test command in ``folder``: wall seconds and pytest's own summary."""
    started = time.perf_counter()
    done = subprocess.run(". .venv/bin/activate && python -m pytest", shell=True, cwd=folder,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    summary = pytest_summary(done.stdout)
    if done.returncode != 0 or summary is None:
        sys.exit(f"the tests in {folder} exited {done.returncode}:\n{done.stdout[-2000:]}")
    return {"wall": wall, "pytest_seconds": summary[1], "outcome": summary[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of two runs each (default 1)")
    parser.add_argument("--workdir", help="where the clones go (default: a temporary folder, removed)")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=arguments.workdir) as workdir:
        folders = {side: checkout(getattr(arguments, side), Path(workdir) / side) for side in ("old", "new")}
        runs = {"old": [], "new": []}
        for round_number in range(arguments.rounds):
            order = ("old", "new") if round_number % 2 == 0 else ("new", "old")
            for side in order:
                result = run_tests(folders[side])
                runs[side].append(result)
                print(f"{side} {getattr(arguments, side)}: {result['wall']:.1f} s wall, "
                      f"pytest {result['pytest_seconds']:.2f} s ({result['outcome']})", flush=True)
    medians = {side: statistics.median(run["wall"] for run in side_runs) for side, side_runs in runs.items()}
    print(f"median wall: old {medians['old']:.1f} s, new {medians['new']:.1f} s, "
          f"new / old {medians['new'] / medians['old']:.2f}")


if __name__ == "__main__":
    main()
