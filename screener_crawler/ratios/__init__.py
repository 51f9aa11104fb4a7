"""Financial ratios computed locally from the statements, daily prices and splits.

- ``catalogue``: every input alias and every ratio, declared once (name, category, formula,
  inputs, unit, averaging, whether it needs a price); the ``financial_ratios`` schema and
  ``docs/RATIOS.md`` derive from it.
- ``periods``: statement rows into comparable periods (versions known at a filing date, the
  derived Q4, TTM from four contiguous quarters, comparison periods, split factors).
- ``compute``: the rows of ``financial_ratios`` of one ticker or many at once, and valuation at
  another day's close.
- ``source``: reads a batch of tickers' inputs from disk and computes their rows.
- ``docs``: renders ``docs/RATIOS.md``.
"""
