"""How long to wait after a failure: what the server's ``Retry-After`` says when it says
something, else exponential backoff with jitter. No Scrapy here; ``RateGate`` and
``PolygonRetryMiddleware`` decide whom a wait holds."""

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class BackoffPolicy:
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.25

    @classmethod
    def from_settings(cls, settings):
        return cls(settings.getfloat("BACKOFF_BASE_DELAY"), settings.getfloat("BACKOFF_MAX_DELAY"),
                   settings.getfloat("BACKOFF_JITTER"))

    def delay(self, attempt, rng=random):
        """Seconds to wait before retry number ``attempt`` (1, 2, 3 …): ``base_delay`` doubled
        each time (1 s, 2 s, 4 s …) up to ``max_delay``, then shortened by a random share of up
        to ``jitter`` so that requests which failed together do not return together."""
        exponential = min(self.max_delay, self.base_delay * 2 ** (max(attempt, 1) - 1))
        return exponential * (1 - self.jitter * rng.random())


def retry_after_seconds(value, now=None):
    """Seconds a ``Retry-After`` header value asks for (delta-seconds or an HTTP date), or
    None when there is no usable value. A date in the past asks for no wait."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())
