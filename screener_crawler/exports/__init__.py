"""Writers that turn what the crawler stored into other tools' on-disk formats (``scrapy export-qlib``)."""
