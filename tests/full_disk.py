"""``python -m tests.full_disk crawl ...``: Scrapy's command line on a disk that fills up.

The first ``FULL_DISK_AFTER`` Parquet files (environment variable) are written normally; every
later write puts some bytes into its file and then fails with ENOSPC, as a full disk does.
"""

import errno
import os
import sys
import threading

from scrapy.cmdline import execute

from screener_crawler import storage


def fill_disk_after(allowed):
    write_parquet = storage.write_parquet
    written = 0
    lock = threading.Lock()

    def write_parquet_until_full(table, path):
        nonlocal written
        with lock:
            written += 1
            full = written > allowed
        if not full:
            return write_parquet(table, path)
        with open(path, "wb") as handle:
            handle.write(b"PAR1" + bytes(64))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    storage.write_parquet = write_parquet_until_full


if __name__ == "__main__":
    fill_disk_after(int(os.environ["FULL_DISK_AFTER"]))
    execute(["scrapy", *sys.argv[1:]])
