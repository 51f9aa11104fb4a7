"""Command-line flags of the sandbox, shared by ``python -m screener_crawler.sandbox`` and ``scrapy sandbox``."""

from dataclasses import fields
from datetime import date

from .server import SandboxOptions

_HELP = {
    "port": "TCP port on 127.0.0.1 (0 = pick a free one)",
    "universe_size": "number of active common stocks",
    "delisted": "number of delisted common stocks",
    "seed": "seed of the synthetic market",
    "as_of": "last day of the synthetic market (YYYY-MM-DD)",
    "history_start": "no statement or dividend before this day (YYYY-MM-DD; empty = the whole history)",
    "turnover": "multiplies the listings, delistings and splits after the reference day (1 = about "
                "5 %%, 4 %% and 1 %% of the universe a year)",
    "latency_ms": "milliseconds added to every response",
    "rate_limit": "requests per second per key before 429 (0 = off)",
    "fault_5xx": "rate of 502/503/504 answers with an nginx HTML page",
    "fault_truncated": "rate of 200 answers whose JSON is cut short",
    "fault_reset": "rate of connections reset without an answer",
    "fault_stall": "rate of connections held open without an answer",
    "stall_seconds": "how long a stalled connection is held",
    "fault_429": "rate of 429 answers (with Retry-After: --retry-after)",
    "retry_after": "seconds in the Retry-After of injected 429s (0 = no header)",
    "throttle_seconds": "answer every request 429 for this long after the first one",
    "fault_seed": "seed of the fault draws",
    "request_log": "append one line per request (arrival time, outcome, path) to this file",
    "response_store": "keep successful answers in this folder and serve them from there when asked again "
                      "(benchmarks: the synthetic data is generated once, not by every run)",
    "keys": "extra full-plan API key (repeatable)",
    "basic_keys": "extra basic-plan API key, refused on v1 endpoints (repeatable)",
}
_FLAG = {"keys": "--key", "basic_keys": "--basic-key"}


def add_arguments(parser):
    """Add one flag per ``SandboxOptions`` field to an argparse parser."""
    defaults = SandboxOptions()
    for f in fields(SandboxOptions):
        flag = _FLAG.get(f.name, "--" + f.name.replace("_", "-"))
        default = getattr(defaults, f.name)
        if f.name in _FLAG:
            parser.add_argument(flag, dest=f.name, action="append", default=[], help=_HELP[f.name])
        elif isinstance(default, date):
            parser.add_argument(flag, dest=f.name, type=date.fromisoformat, default=default, help=_HELP[f.name])
        else:
            parser.add_argument(flag, dest=f.name, type=type(default), default=default,
                                help=f"{_HELP[f.name]} (default {default})")


def options_from_args(args):
    return SandboxOptions(**{f.name: getattr(args, f.name) for f in fields(SandboxOptions)})


def to_argv(**kwargs):
    """CLI flags for ``SandboxOptions`` field values (what ``SandboxProcess`` passes its child)."""
    names = {f.name for f in fields(SandboxOptions)}
    argv = []
    for name, value in kwargs.items():
        if name not in names:
            raise TypeError(f"unknown sandbox option {name!r}")
        flag = _FLAG.get(name, "--" + name.replace("_", "-"))
        for item in (value if name in _FLAG else [value]):
            argv += [flag, item.isoformat() if isinstance(item, date) else str(item)]
    return argv
