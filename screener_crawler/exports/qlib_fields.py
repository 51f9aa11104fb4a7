"""What ``scrapy export-qlib`` writes: the daily price fields and the point-in-time fundamentals,
declared once (the command's ``--fields``, the README and the tests read them from here).

A point-in-time field keeps its name in the project's datasets (a statement line item's column,
or a ratio's name in ``financial_ratios``); Qlib reads it as ``P($$<name>_q)`` (quarterly
rows) or ``P($$<name>_a)`` (annual rows).
"""

from screener_crawler.polygon.fields import STATEMENTS, statement_line_items
from screener_crawler.ratios.catalogue import RATIOS

PRICE_FIELDS = ("open", "high", "low", "close", "volume", "vwap", "factor")
"""``features/<folder>/<field>.day.bin``: prices (and vwap) times ``factor``, volume divided by it."""

ADJUSTED_BY_FACTOR = ("open", "high", "low", "close", "vwap")
DIVIDED_BY_FACTOR = ("volume",)

PIT_STATEMENT_FIELDS = {
    "income_statements": ("revenue", "consolidated_net_income_loss", "diluted_earnings_per_share",
                          "diluted_shares_outstanding"),
    "balance_sheets": ("total_assets", "total_equity"),
    "cash_flow": ("net_cash_from_operating_activities",),
}
"""The statement lines exported by default, as filed (per-share values and share counts on the
split basis of their filing, not adjusted by ``factor``). Qlib keeps one file per field and
timeframe, so every field adds four files per ticker: ``--fields`` adds any other line item."""

PIT_RATIO_FIELDS = ("return_on_equity", "return_on_assets", "gross_margin", "debt_to_equity", "current_ratio",
                    "book_value_per_share")
"""The ``financial_ratios`` exported by default (ratios in USD per share on the latest split's
basis, as stored, which is also the basis of the ``factor``-adjusted prices). Valuation ratios
(P/E, market cap, ...) are left out: in Qlib they follow from ``$close`` and these fields."""

PIT_TIMEFRAMES = {"quarterly": "q", "annual": "a"}
"""Statement timeframe -> Qlib's file suffix (``<field>_q.data``, ``<field>_a.data``)."""

DEFAULT_PIT_FIELDS = (*(name for names in PIT_STATEMENT_FIELDS.values() for name in names), *PIT_RATIO_FIELDS)
DEFAULT_FIELDS = (*PRICE_FIELDS, *DEFAULT_PIT_FIELDS)


def _pit_sources() -> dict[str, str]:
    """Every field ``--fields`` may name for point-in-time data -> its dataset; names found in
    two datasets are left out (ambiguous)."""
    found: dict[str, list[str]] = {}
    for dataset in STATEMENTS:
        for column in statement_line_items(dataset):
            found.setdefault(column, []).append(dataset)
    for ratio in RATIOS:
        found.setdefault(ratio.name, []).append("financial_ratios")
    return {name: datasets[0] for name, datasets in found.items() if len(datasets) == 1}


PIT_SOURCES = _pit_sources()


def resolve_fields(names: list[str] | None) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """(price fields, dataset -> point-in-time fields) of ``names`` (None: the defaults); a
    ValueError names what is unknown."""
    names = list(DEFAULT_FIELDS if names is None else dict.fromkeys(names))
    unknown = [name for name in names if name not in PRICE_FIELDS and name not in PIT_SOURCES]
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}: a price field ({', '.join(PRICE_FIELDS)}), "
                         "a statement line item or a ratio of financial_ratios (a name two statements share "
                         "is ambiguous and cannot be exported)")
    prices = tuple(name for name in PRICE_FIELDS if name in names)
    pit: dict[str, tuple[str, ...]] = {}
    for name in names:
        if name in PIT_SOURCES:
            pit.setdefault(PIT_SOURCES[name], ())
            pit[PIT_SOURCES[name]] += (name,)
    return prices, pit
