"""What ``scrapy status`` checks and how it says so (the command itself is
``commands/status.py``):

- ``partitions``: a dataset's published partition files, read by their Parquet footers (and
  their ``ticker`` column): files, bytes, rows, distinct tickers, schema, null counts;
- ``staged``: units staged in ``<root>/_staging/`` but not yet published;
- ``ledger_view``: the download ledger, read without changing it;
- ``last_crawl``: the last crawl's stats file beside the ledger (how it ended, field coverage);
- ``ratio_coverage``: each financial ratio's coverage, the sparse ones flagged with their note;
- ``checks``: the per-dataset verdicts, assembled into one JSON-able report;
- ``report``: that report as a text table or as JSON;
- ``progress``: the progress line on stderr, shown only when a check takes long.
"""
