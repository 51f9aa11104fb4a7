"""What a worker process (``workers.py``) runs as it starts.

This module imports neither Scrapy nor Twisted, nor does any module of the jobs the workers are
sent (``storage.py``, ``polygon/pages.py``, ``ratios/source.py``, ``ratios/latest.py``): each
worker would carry 33 MB more for them.
"""

import os
import signal
import threading
import time

from screener_crawler.allocator import fix_mmap_threshold


def start_worker(parent, niceness, mmap_threshold=0):
    """Lower the worker's CPU priority by ``niceness``; fix its mmap threshold at
    ``mmap_threshold`` bytes (``allocator.py``; 0 leaves glibc's own); ignore SIGINT, which
    Ctrl-C sends to the whole process group, so that the crawl stops its own way and its jobs
    end as they should (a job interrupted in the worker came back to the crawl as a
    ``KeyboardInterrupt``); and outlive no crawl, not even one killed with SIGKILL."""
    os.nice(niceness)
    fix_mmap_threshold(mmap_threshold)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
