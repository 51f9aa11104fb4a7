"""``SandboxProcess``: the sandbox in a child process that cannot outlive its parent."""

import os
import subprocess
import sys

from .cli import to_argv

_BANNER = "Polygon sandbox listening on "


class SandboxProcess:
    """Start with ``SandboxProcess(**options).start()`` or as a context manager; ``.url`` is its base URL.

    Keyword arguments are ``SandboxOptions`` fields (``port``, ``universe_size``, ``latency_ms``,
    ``rate_limit``, ``fault_5xx``, ``keys`` ...). The child reads its stdin and exits at EOF, so it
    dies with the parent even when the parent is SIGKILLed.
    """

    def __init__(self, startup_timeout=60.0, **options):
        self.argv = [sys.executable, "-m", "screener_crawler.sandbox", "--exit-on-stdin-eof", *to_argv(**options)]
        self.startup_timeout = startup_timeout
        self.proc = None
        self.url = None

    def start(self):
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith(_BANNER):
            self.stop()
            raise RuntimeError(f"sandbox failed to start: {line!r}")
        self.url = line[len(_BANNER):]
        return self

    def stop(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
