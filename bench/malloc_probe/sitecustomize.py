"""glibc's malloc as the crawl sees it: put this folder on ``PYTHONPATH`` and set
``MALLINFO_OUT``, and every ``scrapy crawl`` process started with them appends, every second, to
``$MALLINFO_OUT.<pid>`` one line: seconds since start, RSS MB, malloc's arenas MB, its mmapped
chunks MB, in use MB, free but kept MB, and seconds spent in ``malloc_trim``. With
``TRIM_EVERY=S`` it also calls ``malloc_trim(0)`` every S seconds (a trial, not a setting of the
crawl).

    MALLINFO_OUT=/tmp/mallinfo PYTHONPATH=bench/malloc_probe \\
        python bench/screener_crawl.py --no-baseline --response-store DIR
"""

import ctypes
import os
import sys
import threading
import time

if "crawl" in sys.argv and os.environ.get("MALLINFO_OUT"):
    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                          "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    trim_every = float(os.environ.get("TRIM_EVERY", "0"))
    out = open(f"{os.environ['MALLINFO_OUT']}.{os.getpid()}", "w")

    def sample():
        started, trimming = time.monotonic(), 0.0
        while True:
            info = libc.mallinfo2()
            rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            out.write(f"{time.monotonic() - started:.1f}\t{rss >> 20}\t{info.arena >> 20}\t{info.hblkhd >> 20}\t"
                      f"{info.uordblks >> 20}\t{info.fordblks >> 20}\t{trimming:.2f}\n")
            out.flush()
            if trim_every:
                began = time.perf_counter()
                libc.malloc_trim(0)
                trimming += time.perf_counter() - began
            time.sleep(trim_every or 1)

    threading.Thread(target=sample, daemon=True).start()
