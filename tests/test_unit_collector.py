"""The unit collector: a unit's rows are held until it completes, it settles once per crawl,
and with JOBDIR the open and settled units outlive a stop."""

import pickle

import pyarrow as pa
import pytest
from scrapy.exceptions import DropItem
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from screener_crawler.datasets import DATASETS
from screener_crawler.items import DatasetUnits, RecordBatch, UnitFailed, UnitsComplete
from screener_crawler.pipelines.unit_collector import OPEN_UNITS_FILE, UnitCollectorPipeline
from screener_crawler.storage.tables import stampless_schema


def splits(*tickers):
    schema = stampless_schema(DATASETS["splits"])
    columns = {field.name: pa.nulls(len(tickers), field.type) for field in schema}
    columns["ticker"] = pa.array(tickers, pa.string())
    return RecordBatch("splits", table=pa.table(columns, schema=schema))


def collector(jobdir=None):
    pipeline = UnitCollectorPipeline(MemoryStatsCollector(get_crawler()), jobdir)
    pipeline.open_spider()
    return pipeline


def test_a_unit_passes_on_its_rows_once_and_a_second_completion_is_dropped():
    pipeline = collector()
    pipeline.process_item(splits("AAPL", "MSFT", "AAPL"))
    units = pipeline.process_item(UnitsComplete((("splits", "AAPL"),)))
    assert isinstance(units, DatasetUnits)
    assert [(unit.ticker, unit.table.num_rows) for unit in units.units] == [("AAPL", 2)]

    pipeline.process_item(splits("AAPL"))
    with pytest.raises(DropItem):
        pipeline.process_item(UnitsComplete((("splits", "AAPL"),)))
    assert pipeline._stats.get_value("units/settled_twice") == 1
    units = pipeline.process_item(UnitsComplete((("splits", "MSFT"), ("splits", "AAPL"))))
    assert [(unit.ticker, unit.table.num_rows) for unit in units.units] == [("MSFT", 1)]


def test_open_and_settled_units_outlive_a_jobdir_stop(tmp_path):
    pipeline = collector(tmp_path)
    pipeline.process_item(splits("AAPL", "MSFT", "NVDA"))
    pipeline.process_item(UnitsComplete((("splits", "AAPL"),)))
    pipeline.process_item(UnitFailed("splits", "NVDA", "HTTP 500"))
    pipeline.close_spider()

    resumed = collector(tmp_path)
    units = resumed.process_item(UnitsComplete((("splits", "MSFT"), ("splits", "AAPL"), ("splits", "NVDA"))))
    assert [(unit.ticker, unit.table.num_rows) for unit in units.units] == [("MSFT", 1)]
    assert resumed._stats.get_value("units/settled_twice") == 2


def test_a_jobdir_saved_with_a_pair_per_settled_unit_resumes(tmp_path):
    state = {"records": {}, "partitions": {}, "upserts": {}, "settled": {("splits", "AAPL")}}
    (tmp_path / OPEN_UNITS_FILE).write_bytes(pickle.dumps(state))
    resumed = collector(tmp_path)
    with pytest.raises(DropItem):
        resumed.process_item(UnitsComplete((("splits", "AAPL"),)))
