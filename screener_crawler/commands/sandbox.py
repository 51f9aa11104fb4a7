"""``scrapy sandbox``: serve the Polygon-compatible sandbox until stopped."""

from scrapy.commands import ScrapyCommand

from ..sandbox.__main__ import run
from ..sandbox.cli import add_arguments, options_from_args


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self):
        return "[--port P] [--latency-ms MS] [--rate-limit N] [--fault-5xx RATE] ..."

    def short_desc(self):
        return "Serve the Polygon-compatible sandbox (synthetic data) on 127.0.0.1"

    def add_options(self, parser):
        super().add_options(parser)
        add_arguments(parser)

    def run(self, args, opts):
        run(options_from_args(opts))
