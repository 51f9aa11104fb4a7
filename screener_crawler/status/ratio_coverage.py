"""Each financial ratio's coverage in the published ``financial_ratios`` dataset: the share of
its rows where the ratio has a value (from the partition files' null counts), lowest first. A
ratio null on more than ``SPARSE_NULL_PCT`` % of the rows is flagged, with the catalogue's note
that says why (``Ratio.note``), or without one: then nothing tells a user why it is empty."""

from screener_crawler.ratios.catalogue import RATIOS

SPARSE_NULL_PCT = 95.0


def ratio_coverage(column_coverage: dict[str, float | None]) -> list[dict]:
    """``[{ratio, non_null_pct, sparse, note}]`` for every catalogued ratio among the columns,
    lowest coverage first (those without null counts last)."""
    entries = []
    for ratio in RATIOS:
        if ratio.name not in column_coverage:
            continue
        share = column_coverage[ratio.name]
        entries.append({"ratio": ratio.name, "non_null_pct": share,
                        "sparse": share is not None and 100.0 - share > SPARSE_NULL_PCT, "note": ratio.note})
    return sorted(entries, key=lambda entry: (entry["non_null_pct"] is None, entry["non_null_pct"] or 0.0,
                                              entry["ratio"]))
