"""The screener cross-section: each ticker's latest ``financial_ratios`` row per timeframe
(latest ``period_end``, then latest ``filing_date``), every ticker in one file,
``<root>/financial_ratios_latest/part-0.parquet``. The ratio pass stages it beside the ratios
of each chunk of tickers, and it is published with them, so a market-wide screen reads one
file of a few thousand rows instead of every ``financial_ratios`` partition."""

from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from screener_crawler.datasets import DERIVED_DATASETS
from screener_crawler.storage.layout import partition_path

LATEST = DERIVED_DATASETS["financial_ratios_latest"]


def latest_path(root: Path | str) -> Path:
    return partition_path(root, LATEST)


def latest_rows(table: pa.Table) -> pa.Table:
    """Per (ticker, timeframe), the row of ``table`` with the latest ``period_end`` and then
    the latest ``filing_date``."""
    if table.num_rows == 0:
        return table
    order = [("ticker", "ascending"), ("timeframe", "ascending"),
             ("period_end", "descending"), ("filing_date", "descending")]
    table = table.sort_by(order)
    keys = pc.binary_join_element_wise(table.column("ticker"), table.column("timeframe"), "\x1f")
    first = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1))
    return table.filter(pa.concat_arrays([pa.array([True]), first.combine_chunks()]))


def read_latest(root: Path | str, tickers: Iterable[str] | None = None, timeframe: str | None = None,
                columns: Sequence[str] | None = None) -> pa.Table | None:
    """The cross-section as a table (None when the file does not exist), filtered to
    ``tickers`` and ``timeframe`` when given."""
    path = latest_path(root)
    if not path.exists():
        return None
    table = pq.read_table(path, columns=columns and list(dict.fromkeys(["ticker", "timeframe", *columns])))
    if timeframe is not None:
        table = table.filter(pc.equal(table.column("timeframe"), timeframe))
    if tickers is not None:
        table = table.filter(pc.is_in(table.column("ticker"), pa.array(list(tickers), pa.string())))
    return table.select(columns) if columns else table
