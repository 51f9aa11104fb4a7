"""docs/RATIOS.md is generated from the catalogue and documents every column of the dataset."""

from pathlib import Path

import pyarrow.parquet as pq

from screener_crawler.datasets import DATASETS
from screener_crawler.polygon.fields import STATEMENTS
from screener_crawler.ratios.catalogue import RATIOS
from screener_crawler.ratios.compute import compute_many
from screener_crawler.ratios.docs import DOCS_PATH, render


def test_docs_ratios_md_is_generated_from_the_catalogue():
    assert DOCS_PATH.read_text() == render(), "run: python -m screener_crawler.ratios.docs"


def test_every_ratio_column_of_the_dataset_is_documented():
    text = DOCS_PATH.read_text()
    ratio_columns = [name for name in DATASETS["financial_ratios"].schema.names if name in {r.name for r in RATIOS}]
    assert len(ratio_columns) >= 121
    for name in ratio_columns:
        assert f"| `{name}` |" in text, name


def test_every_ratio_null_on_nearly_every_v1_row_says_why():
    """No ratio ships always null without saying so: over the ratios of the recorded v1 rows of
    the sandbox (``tests/fixtures/ratio_equality``), a ratio null on more than 95 % of them
    carries a note."""
    fixture = Path(__file__).parent / "fixtures" / "ratio_equality"
    frames = {name: pq.read_table(fixture / f"{name}.parquet").to_pandas()
              for name in ("balance_sheets", "income_statements", "cash_flow", "daily_prices", "splits")}
    rows = compute_many({name: frames[name] for name in STATEMENTS}, frames["daily_prices"], frames["splits"])
    assert len(rows) > 1000
    mostly_null = {ratio.name for ratio in RATIOS if rows[ratio.name].isna().mean() > 0.95}
    assert mostly_null == {"oci_to_net_income", "comprehensive_income_margin", "acid_test_ratio"}
    for ratio in RATIOS:
        if ratio.name in mostly_null:
            assert "v1" in ratio.note and "null" in ratio.note, ratio.name


def test_the_definitions_that_are_not_the_textbook_ones_say_so_in_the_docs():
    departures = {ratio.name: ratio.departure for ratio in RATIOS if ratio.departure}
    assert {"debt_service_coverage", "short_term_coverage_ratio", "market_cap"} <= set(departures)
    section = DOCS_PATH.read_text().split("## Definitions that differ from the textbook", 1)[1]
    for name, text in departures.items():
        assert f"- `{name}`: {text}" in section
