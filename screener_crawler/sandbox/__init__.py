"""A Polygon-compatible HTTP sandbox serving a deterministic synthetic US stock market."""

from .market import SyntheticMarket
from .process import SandboxProcess
from .server import SANDBOX_API_KEY, SANDBOX_BASIC_KEY, SandboxOptions, SandboxServer

__all__ = ["SANDBOX_API_KEY", "SANDBOX_BASIC_KEY", "SandboxOptions", "SandboxProcess", "SandboxServer",
           "SyntheticMarket"]
