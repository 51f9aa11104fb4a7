"""``python bench/qlib_export_check.py DATA_DIR QLIB_DIR``: checks a whole Qlib export against the
data root it came from, with the reader the tests use (``tests/qlib_reader.py``, written from
the format's description), and prints what it found:

- prices: for every exported ticker, ``close / factor`` equals the traded close of
  ``daily_prices`` on every day with a bar (to float32 precision), and the bin is NaN on every
  calendar day without one;
- point in time: every record of every ``financial/<folder>/*.data`` file is dated on a day a
  report of that ticker and period became available (an ``available_date`` of its
  ``financial_ratios`` rows), never before it.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler.data_loader import DataLoader  # noqa: E402
from tests import qlib_reader  # noqa: E402

BATCH = 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir")
    parser.add_argument("qlib_dir")
    args = parser.parse_args()
    out, loader = Path(args.qlib_dir), DataLoader(args.data_dir)
    symbols = [line.split("\t") for line in (out / "instruments" / "symbols.tsv").read_text().splitlines()[1:]]
    exported = {ticker: code for ticker, code, _ in symbols if code in qlib_reader.instruments(out)}
    tickers = sorted(exported)
    calendar = np.array(qlib_reader.calendar(out), dtype="datetime64[D]")
    figures = dict(tickers=len(tickers), bars=0, closes_off=0, bin_days_without_bar_not_nan=0, pit_records=0,
                   pit_records_not_on_an_availability_day=0, pit_records_before_first_availability=0)
    for start in range(0, len(tickers), BATCH):
        batch = tickers[start:start + BATCH]
        where = ds.field("ticker").isin(batch)
        bars = loader.load_table("daily_prices", columns=["ticker", "date", "close"], where=where).to_pandas()
        ratios = loader.load_table("financial_ratios", columns=["ticker", "timeframe", "fiscal_year", "fiscal_quarter",
                                                                "available_date"], where=where).to_pandas()
        for ticker, rows in bars.groupby("ticker"):
            code = exported[ticker]
            close, factor = qlib_reader.feature(out, code, "close"), qlib_reader.feature(out, code, "factor")
            traded = (close / factor).astype("float64")
            days = rows["date"].to_numpy().astype("datetime64[D]")
            on_calendar = np.isin(days, calendar)
            at = traded.reindex(days[on_calendar].astype("datetime64[ns]")).to_numpy()
            expected = rows["close"].to_numpy()[on_calendar]
            figures["bars"] += len(expected)
            figures["closes_off"] += int((~np.isclose(at, expected, rtol=2e-6, atol=1e-6)).sum())
            figures["bin_days_without_bar_not_nan"] += int(traded.notna().sum()) - int(on_calendar.sum())
        for ticker, rows in ratios.groupby("ticker"):
            folder = out / "financial" / qlib_reader.folder(exported.get(ticker, ticker))
            if ticker not in exported or not folder.is_dir():
                continue
            stamp = lambda day: day.year * 10000 + day.month * 100 + day.day  # noqa: E731
            quarterly = rows[rows["timeframe"] == "quarterly"]
            annual = rows[rows["timeframe"] == "annual"]
            known = {"_q": {(int(y) * 100 + int(q), stamp(d)) for y, q, d in
                            zip(quarterly["fiscal_year"], quarterly["fiscal_quarter"], quarterly["available_date"])
                            if q == q and y == y},
                     "_a": {(int(y), stamp(d)) for y, d in zip(annual["fiscal_year"], annual["available_date"])
                            if y == y}}
            first = {kind: {} for kind in known}
            for kind, pairs in known.items():
                for period, day in pairs:
                    first[kind][period] = min(day, first[kind].get(period, day))
            for path in folder.glob("*.data"):
                kind = path.stem[-2:]
                for record_date, period, _, _ in qlib_reader.records(out, exported[ticker], path.stem):
                    figures["pit_records"] += 1
                    figures["pit_records_not_on_an_availability_day"] += (period, record_date) not in known[kind]
                    figures["pit_records_before_first_availability"] += record_date < first[kind].get(period, 0)
        print(f"{min(start + BATCH, len(tickers)):,}/{len(tickers):,} tickers checked", file=sys.stderr)
    for name, value in figures.items():
        print(f"{name:<40} {value:>12,}")


if __name__ == "__main__":
    main()
