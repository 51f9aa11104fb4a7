from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from screener_crawler.preflight import PreflightError, check_settings
from screener_crawler.spiders.arguments import SpiderArgumentError


class Command(ScrapyCrawlCommand):
    """``scrapy crawl``, refusing bad spider arguments and settings, and a data directory it
    cannot write, with one line before anything starts."""

    def run(self, args, opts):
        if len(args) == 1:
            try:
                spidercls = self.crawler_process.spider_loader.load(args[0])
            except KeyError:
                spidercls = None
            refusal = crawl_refusal(spidercls, opts.spargs, self.settings)
            if refusal:
                raise UsageError(refusal, print_help=False)
        super().run(args, opts)


def crawl_refusal(spidercls, arguments: dict, settings) -> str | None:
    """The one line ``scrapy crawl`` refuses ``spidercls`` with, given its ``-a`` arguments and the
    settings, or None when it can start (and for spiders that are not ours)."""
    parse_arguments = getattr(spidercls, "parse_arguments", None)
    if parse_arguments is None:
        return None
    try:
        parse_arguments(**arguments)
        check_settings(settings)
    except (SpiderArgumentError, PreflightError) as error:
        return str(error)
    return None
