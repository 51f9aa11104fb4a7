"""Run in a worker process by tests/test_workers.py; imports nothing beyond the standard library,
so that what the worker has loaded is what its jobs loaded."""

import importlib
import sys


def frameworks_loaded_by(*modules):
    """Import ``modules`` (the modules of the jobs workers are sent), then name which of Scrapy
    and Twisted the worker has loaded."""
    for name in modules:
        importlib.import_module(name)
    return sorted({name.split(".")[0] for name in sys.modules} & {"scrapy", "twisted"})
