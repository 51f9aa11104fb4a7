"""Whether two data roots hold the same rows, dataset by dataset (sorted, ``downloaded_at``
ignored): a crawl by one version of the crawler against a crawl by another, or a root before and
after ``scrapy compact``. Reads either layout (hive partitions, any file names).

    python bench/compare_roots.py ROOT_A ROOT_B

To compare the v1 layout's crawler with today's on the same sandbox universe::

    git worktree add /tmp/v1 8f87b82
    (cd /tmp/v1 && SCREENER_DATA_DIR=/tmp/a POLYGON_BASE_URL=http://127.0.0.1:8700 \\
        POLYGON_API_KEY=sandbox-full-plan scrapy crawl screener -s PRICES_START=2012-01-01)
    SCREENER_DATA_DIR=/tmp/b POLYGON_BASE_URL=... scrapy crawl screener -s PRICES_START=2012-01-01
    python bench/compare_roots.py /tmp/a /tmp/b

with ``scrapy sandbox --port 8700 --universe-size 60 --delisted 6`` serving both.
"""

import argparse
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screener_crawler.datasets import STORED_DATASETS  # noqa: E402

IGNORED = ("downloaded_at", "year", "month")


def rows(root, name):
    """The dataset's rows without the stamp and the partition columns, sorted; None if absent."""
    path = Path(root) / name
    if not path.exists():
        return None
    table = ds.dataset(path, format="parquet", partitioning="hive", exclude_invalid_files=True).to_table()
    table = table.drop_columns([column for column in IGNORED if column in table.schema.names])
    keys = [(column, "ascending") for column in table.schema.names if not pa.types.is_nested(table.schema.field(column).type)]
    return table.sort_by(keys)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root_a", type=Path)
    parser.add_argument("root_b", type=Path)
    args = parser.parse_args()
    same = True
    print(f"{'dataset':<24}{'rows A':>12}{'rows B':>12}  verdict")
    for name in STORED_DATASETS:
        a, b = rows(args.root_a, name), rows(args.root_b, name)
        if a is None or b is None:
            verdict = "absent in both" if a is None and b is None else "absent in one"
            same &= a is None and b is None
        else:
            equal = a.num_rows == b.num_rows and a.select(b.schema.names).cast(b.schema).equals(b)
            verdict = "equal" if equal else "DIFFERENT"
            same &= equal
        print(f"{name:<24}{a.num_rows if a is not None else '-':>12}{b.num_rows if b is not None else '-':>12}  {verdict}")
    print("ALL EQUAL" if same else "DIFFERENCES")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
