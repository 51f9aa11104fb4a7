"""The ratio pass: ``financial_ratios`` of many tickers from the published datasets, computed
vectorised over a chunk of tickers at a time (``compute_many``) and staged with each chunk's
cross-section rows (``latest.py``), to be published like any unit. Chunks bound the memory:
the whole universe's ratios are about 1.15 million rows of 166 ratios.

Blocking: call ``RatioPass.stage_chunk`` from a thread.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from screener_crawler.datasets import DATASETS
from screener_crawler.ratios.compute import RATIOS_SCHEMA, compute_many, to_table
from screener_crawler.ratios.inputs import RegroupedStatements, first_bars_after_filings, read_splits
from screener_crawler.ratios.latest import LATEST, latest_rows
from screener_crawler.ratios.periods import SHARES_NOT_POSITIVE
from screener_crawler.storage.staging import StagingArea
from screener_crawler.storage.tables import stamped

RATIOS = DATASETS["financial_ratios"]
RATIO_OUTPUTS = (RATIOS.name, LATEST.name)
"""The datasets a ratio pass stages."""


READ_CHUNKS = 4
"""Chunks whose statements are regrouped into one group (``RegroupedStatements``) and read
at once; the inputs stay in Arrow until their chunk's turn."""


def rows_of(table: pa.Table, tickers: list[str]) -> pa.Table:
    return table.filter(pc.is_in(table.column("ticker"), pa.array(tickers, pa.string())))


def compute_chunk(inputs: "RatioInputs", tickers: list[str]) -> tuple[pa.Table, int]:
    """The ratio rows of ``tickers`` (``RATIOS_SCHEMA``), from ``inputs`` (read for them or
    more), and how many of them had a share count that cannot be (made null)."""
    statements = {dataset: rows_of(table, tickers).to_pandas(date_as_object=False)
                  for dataset, table in inputs.statements.items()}
    frame = compute_many(statements, rows_of(inputs.first_bars, tickers).to_pandas(date_as_object=False),
                         rows_of(inputs.splits, tickers).to_pandas(date_as_object=False))
    table = to_table(frame) if len(frame) else RATIOS_SCHEMA.empty_table()
    return table, frame.attrs.get(SHARES_NOT_POSITIVE, 0)


@dataclass
class RatioInputs:
    statements: dict
    splits: pa.Table
    first_bars: pa.Table


@dataclass
class ChunkResult:
    rows: dict
    """ticker -> ratio rows staged."""
    failed: dict
    """ticker -> the exception its computation raised."""
    shares_not_positive: int = 0
    """Rows staged whose share counts were zero or negative, and made null."""


class RatioPass:
    """The ratios of ``tickers`` in chunks of ``chunk_tickers`` computed together; prices are
    reduced to the bars the ratios read once for all of them."""

    def __init__(self, root: Path | str, tickers: list[str], chunk_tickers: int):
        self.root = Path(root)
        self.tickers = sorted(set(tickers))
        self.chunk_tickers = max(1, chunk_tickers)
        self._first_bars = None
        self._inputs = None
        self._inputs_for = set()
        self._statements = None
        self._area = StagingArea(root)

    def chunks(self) -> Iterator[list[str]]:
        for start in range(0, len(self.tickers), self.chunk_tickers):
            yield self.tickers[start:start + self.chunk_tickers]

    def _read_groups(self) -> list[list[str]]:
        size = self.chunk_tickers * READ_CHUNKS
        return [self.tickers[start:start + size] for start in range(0, len(self.tickers), size)]

    def close(self) -> None:
        """Delete what the pass regrouped for the groups it did not reach."""
        if self._statements is not None:
            self._statements.remove()

    def _inputs_of(self, tickers: list[str]) -> RatioInputs:
        """The inputs of ``tickers``, read with those of the next chunks (``READ_CHUNKS``). What
        reading them freed (the regrouping's partitions, the price months) goes back to the
        system before the chunk is computed."""
        if self._first_bars is None:
            self._first_bars = first_bars_after_filings(self.root, self.tickers)
        if not set(tickers) <= self._inputs_for:
            groups = self._read_groups()
            group = groups[self.tickers.index(tickers[0]) // (self.chunk_tickers * READ_CHUNKS)]
            self._inputs = None
            if self._statements is None:
                self._statements = RegroupedStatements(self.root, groups)
            self._inputs = RatioInputs(self._statements.rows_of(group), read_splits(self.root, group),
                                       rows_of(self._first_bars, group))
            self._inputs_for = set(group)
            pa.default_memory_pool().release_unused()
        return self._inputs

    def stage_chunk(self, tickers: list[str]) -> ChunkResult:
        """Compute and stage the ratios of ``tickers``. A chunk that fails is computed again
        in halves, so one bad ticker fails alone."""
        try:
            table, shares_not_positive = compute_chunk(self._inputs_of(tickers), tickers)
        except Exception as error:
            if len(tickers) == 1:
                return ChunkResult({}, {tickers[0]: error})
            halves = [self.stage_chunk(tickers[:len(tickers) // 2]), self.stage_chunk(tickers[len(tickers) // 2:])]
            return ChunkResult({**halves[0].rows, **halves[1].rows}, {**halves[0].failed, **halves[1].failed},
                               halves[0].shares_not_positive + halves[1].shares_not_positive)
        table = stamped(RATIOS, table, datetime.now(UTC))
        self._area.stage(RATIOS, table, tickers)
        self._area.stage(LATEST, latest_rows(table), tickers)
        counts = {entry["values"]: entry["counts"] for entry in pc.value_counts(table.column("ticker")).to_pylist()}
        pa.default_memory_pool().release_unused()
        return ChunkResult({ticker: counts.get(ticker, 0) for ticker in tickers}, {}, shares_not_positive)
