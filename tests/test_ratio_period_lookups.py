"""The period lookups of the ratio pass (``ratios/periods.py``) against the pandas operation
they stand for: the latest version of a statement filed by a date is ``pd.merge_asof``
backward by ticker, timeframe and period end, ties on the filing day going to the last row."""

import numpy as np
import pandas as pd
import pytest

from screener_crawler.ratios.periods import STATEMENT_KEY, _with_latest_filed


def _statement_rows(generator: np.random.Generator, count: int) -> pd.DataFrame:
    """Rows of a few tickers and periods, many filed on the same days (restatements)."""
    days = pd.to_datetime("2020-01-01") + pd.to_timedelta(generator.integers(0, 40, count), unit="D")
    return pd.DataFrame({
        "ticker": pd.array(generator.choice(["AAA", "BB", "C", "DDDD"], count), dtype="str"),
        "timeframe": generator.choice(["quarterly", "annual"], count),
        "period_end": pd.to_datetime("2019-12-31") - pd.to_timedelta(91 * generator.integers(0, 3, count), unit="D"),
        "filing_date": days.astype("datetime64[ns]"),
        "balance_sheets.total_assets": generator.normal(size=count),
        "source.balance_sheets": generator.choice(["v1", "vX"], count).astype(object),
    })


@pytest.mark.parametrize("seed", range(5))
def test_the_latest_version_filed_by_each_date_is_merge_asofs(seed):
    generator = np.random.default_rng(seed)
    statement = _statement_rows(generator, 300).sort_values("filing_date")
    versions = (_statement_rows(generator, 200)[STATEMENT_KEY].sort_values("filing_date", kind="stable")
                .reset_index(drop=True))
    expected = pd.merge_asof(versions, statement, on="filing_date", by=["ticker", "timeframe", "period_end"],
                             direction="backward")
    found = _with_latest_filed(versions, statement)
    assert found["balance_sheets.total_assets"].isna().any() and found["balance_sheets.total_assets"].notna().any()
    pd.testing.assert_frame_equal(found[expected.columns], expected, check_dtype=False)
