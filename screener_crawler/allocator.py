"""Make glibc's malloc give freed blocks of a page's size back to the system at once.

glibc serves a block over its mmap threshold (128 KiB at first) with a mapping of its own,
unmapped when the block is freed. But each time it unmaps one it raises the threshold to that
block's size (up to 32 MiB): after the first page body of a few MB has been freed, the next page
bodies, and the pickles that carry pages and tables to the worker processes and back, come from
its heaps instead, where the space they leave stays with the process. A fixed threshold turns
that adjustment off (``mallopt(M_MMAP_THRESHOLD)``, as ``MALLOC_MMAP_THRESHOLD_`` does).
"""

import ctypes
import platform

M_MMAP_THRESHOLD = -3


def fix_mmap_threshold(size):
    """Fix the calling process's mmap threshold at ``size`` bytes. False when nothing was
    changed: ``size`` 0, a C library other than glibc, or a size glibc refuses (over 32 MiB)."""
    if size <= 0 or platform.libc_ver()[0] != "glibc":
        return False
    return ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, size) == 1
