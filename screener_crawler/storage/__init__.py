"""The storage contract (DESIGN §3): one Parquet file per Hive partition, every ticker in it.

- ``layout``: where a dataset's partitions live and how a partition file is written;
- ``tables``: Arrow tables of a dataset (schema without the stamp, natural-key duplicates, sort order);
- ``atomic``: files replaced through a temporary name, made durable with ``fsync``;
- ``staging``: completed units appended, many at a time, to ``<root>/_staging/``;
- ``publishing``: staged units merged into the partitions they touch.

No Scrapy here: the pipelines call these functions from a thread.
"""
