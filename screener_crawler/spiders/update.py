"""``-a update=1``: which datasets an update lists the market's rows of since their watermarks,
and the requests and pages of those listings, whose rows are upserted by natural key (a mixin
of ``PolygonSpider``; the families say what to list in their ``update_requests``)."""

import dataclasses
import logging

from screener_crawler.items import UpsertComplete, UpsertFailed
from screener_crawler.middlewares.entitlement import PlanNotEntitled
from screener_crawler.polygon.pages import PAGE_READER
from screener_crawler.spiders.failures import failure_reason

logger = logging.getLogger(__name__)


class UpdateListings:
    def plan_update(self):
        """With ``-a update=1``: the datasets whose rows since their watermark are listed
        (``planned_upserts``), those behind the market's today."""
        if not self.update:
            return
        self.planned_upserts = {d for d, since in self.update_since.items() if since < self.market_today}
        for dataset, since in sorted(self.update_since.items()):
            logger.info("Updating %s: the market's rows since %s, through %s", dataset, since, self.market_today)
            self.crawler.stats.set_value(f"update/since/{dataset}", since.isoformat())
        left = [d for d in self.datasets if d in self.updated_by_listing() and d not in self.update_since]
        if left:
            logger.warning("No complete crawl of %s has recorded the market day it was current to: -a update=1 "
                           "downloads only the units the ledger lacks there. A crawl that completes them sets it.",
                           ", ".join(left))

    def updated_by_listing(self) -> set:
        """The datasets whose families list the market's rows since a day (``update_requests``)."""
        return {d for family in self.families for d in getattr(family, "updated_datasets", ()) if d in self.datasets}

    def update_request(self, endpoint, dataset, params, callback=None, errback=None, meta=None, **kwargs):
        """A request of an update's market-wide listing of ``dataset`` (its rows are upserted by
        natural key once every page is read; ``callback`` defaults to ``parse_update_page``).
        Its rows are held whole, so its page reader leaves them in the order the API gave."""
        meta = {**(meta or {}), "polygon_update": dataset}
        if meta.get(PAGE_READER) is not None:
            meta[PAGE_READER] = dataclasses.replace(meta[PAGE_READER], rows_by_ticker=False)
        return self.api_request(endpoint, params, callback=callback or self.parse_update_page,
                                errback=errback or self.update_failed, dont_filter=True, priority=1,
                                meta=meta, **kwargs)

    def parse_update_page(self, response):
        """A page of an update's listing read by its ``PageReader``: its batches marked as rows
        to upsert, then the next page or the listing's ``UpsertComplete``."""
        page = self.read_page(response)
        yield from upserted(page.batches)
        next_page = self.next_page_request(response, page.next_url)
        yield next_page if next_page else UpsertComplete(response.meta["polygon_update"])

    def update_failed(self, failure):
        """Errback of every update listing: a plan without its endpoint goes to the family's
        fallback (``update_not_entitled``); otherwise none of its rows is written, and its
        datasets keep their watermarks, so the next update lists the same days again."""
        if failure.check(PlanNotEntitled):
            yield from self.update_not_entitled(failure.request)
            return
        yield from self.updates_failed(failure.request.meta, failure_reason(failure))

    def updates_failed(self, meta, reason):
        for dataset in meta.get("polygon_update_datasets") or (meta["polygon_update"],):
            yield UpsertFailed(dataset, reason)

    def update_not_entitled(self, request):
        """What replaces an update listing the plan lacks; by default nothing: it fails."""
        yield from self.updates_failed(request.meta, "not entitled: plan lacks this endpoint")


def upserted(batches):
    """``batches`` marked as an update's rows."""
    for batch in batches:
        batch.upsert = True
        yield batch
