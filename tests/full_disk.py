"""``python -m tests.full_disk crawl ...``: Scrapy's command line on a disk that fills up.

The first ``FULL_DISK_AFTER`` Parquet files (environment variable) are written normally; every
later write puts some bytes into its file and then fails with ENOSPC, as a full disk does.
"""

import errno
import os
import sys
import threading

import pyarrow.parquet as pq
from scrapy.cmdline import execute


def fill_disk_after(allowed):
    write_table = pq.write_table
    written = 0
    lock = threading.Lock()

    def write_table_until_full(table, where, *args, **kwargs):
        nonlocal written
        with lock:
            written += 1
            full = written > allowed
        if not full:
            return write_table(table, where, *args, **kwargs)
        with open(where, "wb") as handle:
            handle.write(b"PAR1" + bytes(64))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    pq.write_table = write_table_until_full


if __name__ == "__main__":
    fill_disk_after(int(os.environ["FULL_DISK_AFTER"]))
    execute(["scrapy", *sys.argv[1:]])
