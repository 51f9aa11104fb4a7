"""The period lookups of the ratio pass (``ratios/periods.py``) against the pandas operation
they stand for: the latest version of a statement filed by a date is ``pd.merge_asof``
backward by ticker, timeframe and period end, ties on the filing day going to the last row."""

import numpy as np
import pandas as pd
import pytest

from screener_crawler.ratios.periods import STATEMENT_KEY, _with_latest_filed


def _statement_rows(generator: np.random.Generator, count: int, tickers: list[str]) -> pd.DataFrame:
    """Rows of a few tickers and periods, many filed on the same days (restatements)."""
    days = pd.to_datetime("2020-01-01") + pd.to_timedelta(generator.integers(0, 40, count), unit="D")
    return pd.DataFrame({
        "ticker": pd.array(generator.choice(tickers, count), dtype="str"),
        "timeframe": generator.choice(["quarterly", "annual"], count),
        "period_end": pd.to_datetime("2019-12-31") - pd.to_timedelta(91 * generator.integers(0, 3, count), unit="D"),
        "filing_date": days.astype("datetime64[ns]"),
        "balance_sheets.total_assets": generator.normal(size=count),
        "source.balance_sheets": pd.Series(generator.choice(["v1", "vX"], count), dtype=object),
    })


@pytest.mark.parametrize("seed", range(5))
def test_the_latest_version_filed_by_each_date_matches_merge_asof_with_same_day_filings(seed):
    """Periods of tickers both sides list, and of tickers only one side lists (a period with
    an income statement and no cash-flow statement), with ties on the filing day."""
    generator = np.random.default_rng(seed)
    statement = _statement_rows(generator, 300, ["AAA", "BB", "C", "ONLY_FILED"]).sort_values("filing_date")
    versions = (_statement_rows(generator, 200, ["AAA", "BB", "C", "ONLY_ASKED"])[STATEMENT_KEY]
                .sort_values("filing_date", kind="stable").reset_index(drop=True))
    expected = pd.merge_asof(versions, statement, on="filing_date", by=["ticker", "timeframe", "period_end"],
                             direction="backward")
    found = _with_latest_filed(versions, statement)
    values = found["balance_sheets.total_assets"]
    assert values[versions["ticker"] == "ONLY_ASKED"].isna().all()
    assert values[versions["ticker"] != "ONLY_ASKED"].notna().any()
    assert list(found.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(found, expected)
