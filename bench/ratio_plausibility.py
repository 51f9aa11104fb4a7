"""Check: the plausibility of the ``financial_ratios`` a crawl wrote (issue 32's "Done when").

    python bench/ratio_plausibility.py DATA_DIR

Reads the data root's ``financial_ratios``, ``splits``, statements and ``daily_prices`` with
pyarrow alone (not the crawler's loaders) and prints:
- rows with a negative ``market_cap``; rows with a negative ``enterprise_value``, split into
  those whose market cap is negative too and those of cash-rich companies (cash above market
  cap plus debt: a negative EV that is real);
- per-share jumps at splits: for every split of a ticker with ratio rows on both sides, each
  USD-per-share ratio of the last TTM row filed before the split and the first filed on or after
  it; a pair whose step is within 15 % of the split factor (or its inverse) is a jump;
- ``available_date`` values that are not NYSE sessions (exchange-calendars' XNYS) or not a day
  with any bar in ``daily_prices``;
- statement ``filing_date`` values on a weekend or a US federal holiday (EDGAR is closed).
"""

import argparse
import math
import sys
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener_crawler.ratios.catalogue import RATIOS, USD_PER_SHARE  # noqa: E402

PER_SHARE = [ratio.name for ratio in RATIOS if ratio.unit == USD_PER_SHARE]


def read(root, name, columns):
    return ds.dataset(root / name, format="parquet", partitioning="hive").to_table(columns=columns).to_pandas()


def per_share_jumps(ratios, splits):
    """``(splits with TTM rows on both sides, pairs checked, jumps, revenue-per-share jumps,
    examples)``: a pair jumps when its step is within ``JUMP_TOLERANCE`` of the split factor or
    its inverse; revenue per share (TTM revenue over the mean share count) moves least of the
    per-share series, so a jump there is the split's and not the business's."""
    ttm = ratios[ratios["timeframe"] == "trailing_twelve_months"].sort_values(["ticker", "filing_date"])
    by_ticker = dict(tuple(ttm.groupby("ticker")))
    checked = jumps = revenue_jumps = splits_seen = 0
    examples = []
    for split in splits.itertuples():
        factor = split.split_to / split.split_from
        rows = by_ticker.get(split.ticker)
        if rows is None or factor == 1:
            continue
        before = rows[rows["filing_date"] < split.execution_date]
        after = rows[rows["filing_date"] >= split.execution_date]
        if before.empty or after.empty:
            continue
        splits_seen += 1
        for name in PER_SHARE:
            a, b = before.iloc[-1][name], after.iloc[0][name]
            if not (a > 0 and b > 0):
                continue
            checked += 1
            step = math.log(b / a)
            if min(abs(step - math.log(factor)), abs(step + math.log(factor))) < math.log(JUMP_TOLERANCE):
                jumps += 1
                revenue_jumps += name == "revenue_per_share"
                examples.append((split.ticker, str(split.execution_date), factor, name, round(b / a, 3)))
    return splits_seen, checked, jumps, revenue_jumps, examples[:5]


JUMP_TOLERANCE = 1.15


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    root = parser.parse_args().data_dir
    ratios = read(root, "financial_ratios", ["ticker", "timeframe", "filing_date", "available_date", "market_cap",
                                             "enterprise_value", *PER_SHARE])
    splits = read(root, "splits", ["ticker", "execution_date", "split_from", "split_to"]).drop_duplicates()
    print(f"financial_ratios rows: {len(ratios):,}; tickers: {ratios['ticker'].nunique():,}; splits: {len(splits):,}")

    negative_cap = (ratios["market_cap"] < 0).sum()
    negative_ev = ratios["enterprise_value"] < 0
    print(f"market_cap < 0: {negative_cap:,} rows; enterprise_value < 0: {negative_ev.sum():,} rows "
          f"({(negative_ev & (ratios['market_cap'] < 0)).sum():,} with a negative market cap, "
          f"{(negative_ev & (ratios['market_cap'] == 0)).sum():,} with a zero one, "
          f"{(negative_ev & (ratios['market_cap'] > 0)).sum():,} cash-rich)")

    splits_seen, checked, jumps, revenue_jumps, examples = per_share_jumps(ratios, splits)
    print(f"splits with TTM rows on both sides: {splits_seen:,}; per-share pairs checked: {checked:,}; "
          f"steps within {JUMP_TOLERANCE - 1:.0%} of the split factor: {jumps:,}, of revenue_per_share: "
          f"{revenue_jumps:,} {examples if examples else ''}")

    import exchange_calendars

    available = pd.to_datetime(ratios["available_date"].drop_duplicates())
    sessions = exchange_calendars.get_calendar("XNYS", start="1990-01-02").sessions
    bar_days = pd.to_datetime(read(root, "daily_prices", ["date"])["date"].drop_duplicates())
    print(f"available_date values: {len(available):,}; not an XNYS session: {(~available.isin(sessions)).sum():,}; "
          f"not a day with bars: {(~available.isin(bar_days)).sum():,}")

    from pandas.tseries.holiday import USFederalHolidayCalendar

    filed = pd.concat([read(root, name, ["filing_date"])["filing_date"]
                       for name in ("balance_sheets", "income_statements", "cash_flow")]).drop_duplicates()
    filed = pd.to_datetime(filed)
    holidays = USFederalHolidayCalendar().holidays(start="1990-01-01", end="2045-12-31")
    closed = (filed.dt.day_of_week >= 5) | filed.isin(holidays)
    print(f"filing_date values: {len(filed):,}; on a weekend or federal holiday: {closed.sum():,}")


if __name__ == "__main__":
    main()
