from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from screener_crawler.preflight import PreflightError, check_settings
from screener_crawler.spiders.base import SpiderArgumentError


class Command(ScrapyCrawlCommand):
    """``scrapy crawl``, refusing bad spider arguments and settings, and a data directory it
    cannot write, with one line before anything starts."""

    def run(self, args, opts):
        if len(args) == 1:
            try:
                spidercls = self.crawler_process.spider_loader.load(args[0])
            except KeyError:
                spidercls = None
            parse_arguments = getattr(spidercls, "parse_arguments", None)
            if parse_arguments is not None:
                try:
                    parse_arguments(**opts.spargs)
                    check_settings(self.settings)
                except (SpiderArgumentError, PreflightError) as error:
                    raise UsageError(str(error), print_help=False) from None
        super().run(args, opts)
