"""Scrapy download handlers: the last step before a request goes on the wire."""
