"""Summaries of the two profiles the benchmark notes quote.

``pyspy RAW --thread NAME``: the share of one thread's samples spent in each function (inclusive,
counted once per sample) and at each leaf, from ``py-spy record -f raw --threads`` output::

    py-spy record --nonblocking -r 20 -d 180 --threads -f raw -o crawl.txt -p <crawl pid>
    python bench/profile_summary.py pyspy crawl.txt --thread MainThread

Without ``--idle`` py-spy leaves out the samples of a thread that is waiting, so the shares are
of the time the thread was busy, not of the wall time: a thread busy a fifth of the time can show
90% in callbacks. Record with ``--idle`` to see how busy it was (its waits then show as ``select``
leaves), or read the crawl's ``cpu/*_seconds`` stats.

``memray CAPTURE``: what was alive at the high-water mark of a ``memray run`` capture, grouped by
the first frame in screener_crawler and by allocation site::

    memray run --aggregate -o crawl.bin -m scrapy crawl screener ...
    python bench/profile_summary.py memray crawl.bin

Neither profiler is a dependency of the crawler: install ``py-spy`` or ``memray`` to take one.
"""

import argparse
import collections
import os
import sys

OURS = "screener_crawler"


def _short_frame(frame):
    """``function (file.py)`` from py-spy's ``function (path/to/file.py:line)``."""
    function, _, location = frame.partition(" (")
    return f"{function} ({os.path.basename(location.rsplit(':', 1)[0].rstrip(')'))})"


def pyspy_shares(lines, thread):
    """(samples, inclusive Counter, leaf Counter) for the stacks of threads whose name has ``thread``."""
    inclusive, leaves, total = collections.Counter(), collections.Counter(), 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        if thread not in frames[0]:
            continue
        count = int(count)
        total += count
        for name in {_short_frame(frame) for frame in frames[1:]}:
            inclusive[name] += count
        leaves[frames[-1]] += count
    return total, inclusive, leaves


def summarise_pyspy(path, thread, top):
    with open(path) as raw:
        total, inclusive, leaves = pyspy_shares(raw, thread)
    if not total:
        sys.exit(f"no samples of a thread named like {thread!r} in {path}")
    print(f"{total:,} samples of {thread}")
    for name, count in inclusive.most_common(top):
        print(f"{100 * count / total:5.1f}%  {name}")
    print("--- leaf frames")
    for name, count in leaves.most_common(top // 2):
        print(f"{100 * count / total:5.1f}%  {name}")


def summarise_memray(path, top):
    try:
        from memray import FileReader
    except ImportError:
        sys.exit("memray is not installed: pip install memray")
    reader = FileReader(path)
    print(f"peak {reader.metadata.peak_memory / 1e6:,.1f} MB")
    by_ours, by_site = collections.Counter(), collections.Counter()
    for record in reader.get_high_watermark_allocation_records(merge_threads=True):
        stack = record.stack_trace(max_stacks=40)
        ours = next((f"{function} ({file.split('site-packages/')[-1]}:{line})"
                     for function, file, line in stack if OURS in file), "(no frame of ours)")
        by_ours[ours] += record.size
        site = " <- ".join(f"{function} ({os.path.basename(file)}:{line})" for function, file, line in stack[:3])
        by_site[site] += record.size
    for title, sizes in (("by first frame in " + OURS, by_ours), ("by allocation site (3 frames)", by_site)):
        print(f"--- {title}")
        for name, size in sizes.most_common(top):
            print(f"{size / 1e6:8.1f} MB  {name}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="profiler", required=True)
    pyspy = commands.add_parser("pyspy", help="py-spy raw output: shares of one thread")
    pyspy.add_argument("raw")
    pyspy.add_argument("--thread", default="MainThread", help="thread name (substring), default MainThread")
    memray = commands.add_parser("memray", help="memray capture: live memory at the peak")
    memray.add_argument("capture")
    for command in (pyspy, memray):
        command.add_argument("--top", type=int, default=40, help="lines per section (default 40)")
    options = parser.parse_args(argv)
    if options.profiler == "pyspy":
        summarise_pyspy(options.raw, options.thread, options.top)
    else:
        summarise_memray(options.capture, options.top)


if __name__ == "__main__":
    main()
