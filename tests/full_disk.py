"""``python -m tests.full_disk crawl ...``: Scrapy's command line on a disk that fills up.

The first ``FULL_DISK_AFTER`` staged files (environment variable) are written normally; every
later one gets some bytes and then fails with ENOSPC, as a full disk does.
"""

import errno
import os
import sys
import threading

from scrapy.cmdline import execute

from screener_crawler.storage import staging


def fill_disk_after(allowed):
    write = staging.write_staged_file
    written = 0
    lock = threading.Lock()

    def write_until_full(path, schema, pieces):
        nonlocal written
        with lock:
            written += 1
            full = written > allowed
        if not full:
            return write(path, schema, pieces)
        with open(path, "wb") as handle:
            handle.write(b"ARROW1" + bytes(64))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    staging.write_staged_file = write_until_full


if __name__ == "__main__":
    fill_disk_after(int(os.environ["FULL_DISK_AFTER"]))
    execute(["scrapy", *sys.argv[1:]])
