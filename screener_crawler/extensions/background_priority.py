"""How much nicer than the crawl the threads of work with slack run: publishing, partition
writes and the ratio pass (``work_threads.BACKGROUND_KINDS``), set from
``SCREENER_BACKGROUND_NICENESS``.

Under a rate cap the downloads keep a pace of their own, and that work has slack: on a busy
machine it takes the CPU the reactor's thread, the page reads and staging leave over, and the
requests keep their pace. Uncapped, the downloads take the cores as fast as they can, and the
publishes before the ratio pass and the pass itself are what the crawl ends with: left empty,
the setting is then 0.
"""

from screener_crawler.work_threads import BACKGROUND_NICENESS, set_background_niceness


def background_niceness(settings) -> int:
    """``SCREENER_BACKGROUND_NICENESS``, or when it is empty ``BACKGROUND_NICENESS`` under a rate
    cap (``POLYGON_RATE_LIMIT`` above 0) and 0 without one."""
    value = settings.get("SCREENER_BACKGROUND_NICENESS")
    if value not in (None, ""):
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"SCREENER_BACKGROUND_NICENESS must be a whole number from 0 to 19 or empty, "
                             f"not {value!r}") from None
    return BACKGROUND_NICENESS if settings.getfloat("POLYGON_RATE_LIMIT") > 0 else 0


class BackgroundPriority:
    @classmethod
    def from_crawler(cls, crawler):
        set_background_niceness(background_niceness(crawler.settings))
        return cls()
