"""The screener cross-section: each ticker's latest ``financial_ratios`` row per timeframe
(latest ``period_end``, then latest ``filing_date``), all tickers in one file,
``<root>/financial_ratios_latest/financial_ratios_latest.parquet``.

The ratio pipeline updates it after each batch, once the batch's ratio files are in place and
before the ledger hears of them: a crawl killed in between recomputes those tickers on the next
run and so puts them here too. A screen of the whole market reads this one file instead of the
hundreds of thousands of ``financial_ratios`` partition files.
"""

import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from screener_crawler.datasets import DATASETS
from screener_crawler.storage import write_atomically

NAME = "financial_ratios_latest"
_update_lock = threading.Lock()


def latest_path(root):
    return Path(root) / NAME / f"{NAME}.parquet"


def latest_rows(table):
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


def update_latest(root, tickers, table):
    """Replace the rows of ``tickers`` (all of them, including those with no rows now) with the
    latest rows of ``table`` (rows of those tickers in the dataset's full schema, or None).
    Not safe across processes: the ratio pipeline sends every update to one worker."""
    schema = DATASETS["financial_ratios"].schema
    path = latest_path(root)
    with _update_lock:
        kept = pq.read_table(path, schema=schema) if path.exists() else schema.empty_table()
        kept = kept.filter(pc.invert(pc.is_in(kept.column("ticker"), pa.array(list(tickers), pa.string()))))
        fresh = schema.empty_table() if table is None else latest_rows(table.select(schema.names).cast(schema))
        merged = pa.concat_tables([kept, fresh])
        write_atomically(merged.sort_by([("ticker", "ascending"), ("timeframe", "ascending")]), path)


def read_latest(root, tickers=None, timeframe=None, columns=None):
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
