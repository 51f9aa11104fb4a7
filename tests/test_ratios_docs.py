"""docs/RATIOS.md is generated from the catalogue and documents every column of the dataset."""

from pathlib import Path

import pyarrow.parquet as pq

from screener_crawler.datasets import DATASETS
from screener_crawler.ratios.catalogue import RATIOS
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
    """No ratio ships always null without saying so: over the recorded v1 rows of the sandbox
    (``tests/fixtures/ratio_equality``), a ratio null on more than 95 % of them carries a note."""
    rows = pq.read_table(Path(__file__).parent / "fixtures" / "ratio_equality" / "financial_ratios.parquet")
    mostly_null = {ratio.name for ratio in RATIOS if rows.column(ratio.name).null_count > 0.95 * rows.num_rows}
    assert mostly_null == {"oci_to_net_income", "comprehensive_income_margin"}
    for ratio in RATIOS:
        if ratio.name in mostly_null:
            assert "v1" in ratio.note and "null" in ratio.note, ratio.name
