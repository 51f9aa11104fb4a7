"""A progress line on stderr, shown only once a check has taken more than a few seconds."""

import sys
import time
from typing import TextIO

PROGRESS_AFTER_SECONDS = 3.0
PROGRESS_EVERY_SECONDS = 1.0


class Progress:
    def __init__(self, stream: TextIO = sys.stderr, after: float = PROGRESS_AFTER_SECONDS):
        self._stream = stream
        self._after = after
        self._started = time.monotonic()
        self._last = None
        self._shown = False
        self._tty = stream.isatty()

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now - self._started < self._after or (self._last is not None and now - self._last < PROGRESS_EVERY_SECONDS):
            return
        self._last = now
        self._shown = True
        line = f"status: {message}, {self.elapsed():.0f}s"
        self._stream.write(f"\r{line}\033[K" if self._tty else f"{line}\n")
        self._stream.flush()

    def finish(self) -> None:
        """End the line a terminal was overwriting, if any was shown."""
        if self._shown and self._tty:
            self._stream.write("\n")
            self._stream.flush()
