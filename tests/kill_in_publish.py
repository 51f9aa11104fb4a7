"""``python -m tests.kill_in_publish crawl ...``: Scrapy's command line, killing its own process
with SIGKILL in the middle of a publish: after ``KILL_AFTER_PARTITIONS`` partition files (an
environment variable) have been written, before the next one is renamed into place."""

import os
import signal
import sys

from scrapy.cmdline import execute

from screener_crawler.storage import layout, publishing


def kill_in_publish(after):
    written = 0
    write = layout.write_partition_file

    def write_then_die(path, table, row_group_rows):
        nonlocal written
        if written == after:
            os.kill(os.getpid(), signal.SIGKILL)
        written += 1
        write(path, table, row_group_rows)

    publishing.write_partition_file = write_then_die


if __name__ == "__main__":
    kill_in_publish(int(os.environ["KILL_AFTER_PARTITIONS"]))
    execute(["scrapy", *sys.argv[1:]])
