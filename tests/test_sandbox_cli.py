"""The sandbox's command line: every flag's help renders, in both entry points."""

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from screener_crawler.sandbox.server import SandboxOptions

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [[sys.executable, "-m", "screener_crawler.sandbox", "--help"],
                                     [sys.executable, "-m", "scrapy", "sandbox", "--help"]],
                         ids=["python -m", "scrapy sandbox"])
def test_help_lists_every_sandbox_option(command):
    shown = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for option in fields(SandboxOptions):
        if option.name not in ("keys", "basic_keys"):
            assert "--" + option.name.replace("_", "-") in shown.stdout
    assert "5 %, 4 % and 1 %" in shown.stdout
