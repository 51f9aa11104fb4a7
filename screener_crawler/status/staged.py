"""Units staged in ``<root>/_staging/`` but not yet published: a crawl that was killed, or is
running, leaves them there, and the next crawl publishes them when it starts. Only the header
of each staged file is read (which tickers it replaces, or whose rows it upserts), never its rows."""

from dataclasses import dataclass, field
from pathlib import Path

from screener_crawler.storage.staging import StagingArea


@dataclass
class StagedUnits:
    """The staged files of one dataset."""

    files: int = 0
    tickers: set[str] = field(default_factory=set)
    """The tickers they replace (in every partition, or in one month of a market-wide listing)."""
    upsert_files: int = 0
    """Of ``files``, those whose rows upsert by natural key (an update's new rows)."""
    upserted_tickers: set[str] = field(default_factory=set)
    """The tickers whose rows those upsert."""
    whole_table: bool = False
    """One of them replaces the whole table (the universe)."""
    unreadable: dict[str, str] = field(default_factory=dict)
    """Staged file (relative to the data root) -> why its header could not be read."""


def staged_units(root: Path) -> dict[str, StagedUnits]:
    """Dataset name (as the staged file names it) -> its staged, unpublished files."""
    area = StagingArea(root)
    found: dict[str, StagedUnits] = {}
    for staged in area.files():
        units = found.setdefault(staged.dataset, StagedUnits())
        try:
            header = area.header(staged)
        except FileNotFoundError:
            continue  # published meanwhile
        except Exception as error:
            units.files += 1
            units.unreadable[staged.path.relative_to(root).as_posix()] = f"{type(error).__name__}: {error}"
            continue
        units.files += 1
        if header.upsert:
            units.upsert_files += 1
            units.upserted_tickers.update(header.tickers)
        elif header.tickers is None:
            units.whole_table = True
        else:
            units.tickers.update(header.tickers)
    return {name: units for name, units in found.items() if units.files}
