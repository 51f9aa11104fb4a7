"""docs/RATIOS.md is generated from the catalogue and documents every column of the dataset."""

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
