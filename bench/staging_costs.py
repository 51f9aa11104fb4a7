"""Benchmark: two costs of staging, on a crawl's data root (v2 layout).

    python bench/staging_costs.py DATA_DIR [--tickers 600] [--repeat 7]

- The staging backlog's count of one financials response (``--page-tickers`` tickers x the three
  statements, cut per ticker as the unit collector cuts them): ``Table.nbytes`` of every unit
  against ``pipelines/staging.py: _rows_bytes`` (one unit's bytes per row of each dataset).
- Writing staged files: the published ``financial_ratios`` rows of ``--tickers`` tickers, in
  chunks of ``SCREENER_RATIO_CHUNK_TICKERS`` as the ratio pass stages them (a record batch per
  month), written by Arrow's IPC writer straight to the file against ``storage/staging.py:
  write_staged_file`` (through a buffer); the two alternate, and each file is fsynced.

Prints the median (min, max) of ``--repeat`` runs of each. Files go to a temporary folder beside
the data root, removed afterwards.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import screener_crawler  # noqa: E402,F401  (before pyarrow, as in the crawl: Arrow's C++ default pool)
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.ipc as ipc  # noqa: E402

from screener_crawler import settings  # noqa: E402
from screener_crawler.data_loader import DataLoader  # noqa: E402
from screener_crawler.datasets import DATASETS  # noqa: E402
from screener_crawler.items import DatasetUnit, DatasetUnits  # noqa: E402
from screener_crawler.pipelines.staging import _rows_bytes  # noqa: E402
from screener_crawler.storage.tables import by_ticker, split_by_month  # noqa: E402
from screener_crawler.storage.staging import write_staged_file  # noqa: E402

STATEMENTS = ("balance_sheets", "income_statements", "cash_flow")


def statement_response(loader: DataLoader, tickers: int) -> DatasetUnits:
    """The units one financials response of ``tickers`` tickers brings: each statement's rows,
    sorted by ticker and cut per ticker."""
    names = loader.load("universe", columns=["ticker"])["ticker"].sort_values().tolist()[:tickers]
    units = []
    for dataset in STATEMENTS:
        page = loader.load_table(dataset, columns=list(DATASETS[dataset].columns),
                                 where=pc.field("ticker").isin(pa.array(names, pa.string()))).sort_by("ticker")
        units += [DatasetUnit(dataset, ticker, rows) for ticker, rows in by_ticker(page)]
    return DatasetUnits(units)


def every_units_nbytes(item: DatasetUnits) -> int:
    return sum(unit.table.nbytes for unit in item.units)


def write_unbuffered(path: Path, schema: pa.Schema, pieces: list) -> None:
    with ipc.new_file(path, schema) as writer:
        for _, piece in pieces:
            writer.write_table(piece.combine_chunks())


def ratio_chunks(loader: DataLoader, tickers: int, chunk_tickers: int) -> list:
    """(schema, pieces by month) of each chunk of the first ``tickers`` tickers' ratio rows."""
    ratios = DATASETS["financial_ratios"]
    names = loader.load("universe", columns=["ticker"])["ticker"].sort_values().tolist()[:tickers]
    table = loader.load_table("financial_ratios", columns=list(ratios.columns),
                              where=pc.field("ticker").isin(pa.array(names, pa.string())))
    chunks = []
    for start in range(0, len(names), chunk_tickers):
        rows = table.filter(pc.is_in(table.column("ticker"), pa.array(names[start:start + chunk_tickers])))
        chunks.append(list(split_by_month(ratios, rows.cast(ratios.schema))))
    return chunks


def timed(function, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        runs.append(time.perf_counter() - started)
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs)}


def line(name: str, figure: dict, unit: str = "s", scale: float = 1.0) -> str:
    return (f"{name:<44} {figure['median'] * scale:9.3f} {unit}  "
            f"({figure['min'] * scale:.3f}-{figure['max'] * scale:.3f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", metavar="DATA_DIR", type=Path)
    parser.add_argument("--page-tickers", type=int, default=50, help="tickers of the financials response (default 50)")
    parser.add_argument("--tickers", type=int, default=600, help="tickers whose ratio rows are staged (default 600)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if not (args.root / "financial_ratios").is_dir():
        parser.error(f"{args.root} has no financial_ratios: give the data root of a whole crawl")
    loader = DataLoader(args.root)

    response = statement_response(loader, args.page_tickers)
    rows = sum(unit.table.num_rows for unit in response.units)
    print(f"backlog count of one financials response: {len(response.units)} units, {rows:,} rows")
    print(line("  Table.nbytes of every unit", timed(lambda: every_units_nbytes(response), args.repeat), "ms", 1000),
          f"  {every_units_nbytes(response):,} bytes")
    print(line("  _rows_bytes (bytes per row of each dataset)", timed(lambda: _rows_bytes(response), args.repeat),
               "ms", 1000), f"  {_rows_bytes(response):,} bytes")

    chunks = ratio_chunks(loader, args.tickers, settings.SCREENER_RATIO_CHUNK_TICKERS)
    schema = DATASETS["financial_ratios"].schema
    megabytes = sum(piece.nbytes for pieces in chunks for _, piece in pieces) / 1e6
    with tempfile.TemporaryDirectory(dir=args.root.resolve().parent) as folder:
        def write_all(write, name):
            for number, pieces in enumerate(chunks):
                path = Path(folder, f"{name}-{number}.arrow")
                write(path, schema, pieces)
                descriptor = os.open(path, os.O_RDONLY)
                os.fsync(descriptor)
                os.close(descriptor)

        figures = {"unbuffered": [], "buffered": []}
        for _ in range(args.repeat):
            for name, write in (("unbuffered", write_unbuffered), ("buffered", write_staged_file)):
                figures[name].append(timed(lambda: write_all(write, name), 1)["median"])
        sizes = {name: sum(path.stat().st_size for path in Path(folder).glob(f"{name}-*")) for name in figures}
    print(f"staged ratio files: {args.tickers} tickers, {len(chunks)} chunks, {megabytes:.0f} MB of rows")
    for name, runs in figures.items():
        figure = {"median": statistics.median(runs), "min": min(runs), "max": max(runs)}
        label = "  Arrow's IPC writer to the file" if name == "unbuffered" else "  write_staged_file (1-MB buffer)"
        print(line(label, figure), f"  {sizes[name] / 1e6:.0f} MB written")


if __name__ == "__main__":
    main()
