"""The crawl's process allocates Arrow memory from the pool ``ARROW_MEMORY_POOL`` names."""

import pyarrow as pa
import pytest
from scrapy.utils.test import get_crawler

from screener_crawler import settings as project_settings
from screener_crawler.extensions import arrow_memory_pool
from screener_crawler.extensions.arrow_memory_pool import ArrowMemoryPool


@pytest.fixture(autouse=True)
def restore_the_pool(monkeypatch):
    monkeypatch.setattr(arrow_memory_pool, "ARROW_POOL_FROM_ENVIRONMENT", False)
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def backend_after(settings):
    ArrowMemoryPool.from_crawler(get_crawler(settings_dict=settings))
    return pa.default_memory_pool().backend_name


def test_the_crawl_allocates_from_the_system_pool_by_default():
    assert project_settings.ARROW_MEMORY_POOL == "system"
    assert "screener_crawler.extensions.arrow_memory_pool.ArrowMemoryPool" in project_settings.EXTENSIONS
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert backend_after({"ARROW_MEMORY_POOL": project_settings.ARROW_MEMORY_POOL}) == "system"
    table = pa.table({"x": list(range(1000))})
    assert table.column("x").chunk(0).buffers()[1] is not None and pa.system_memory_pool().bytes_allocated() > 0


@pytest.mark.parametrize("name", ["mimalloc", "system"])
def test_the_setting_names_the_pool(name):
    pa.set_memory_pool(pa.jemalloc_memory_pool() if name == "system" else pa.system_memory_pool())
    assert backend_after({"ARROW_MEMORY_POOL": name}) == name


def test_an_empty_setting_or_arrows_own_variable_leaves_the_pool_as_it_is(monkeypatch):
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert backend_after({"ARROW_MEMORY_POOL": ""}) == "mimalloc"
    monkeypatch.setattr(arrow_memory_pool, "ARROW_POOL_FROM_ENVIRONMENT", True)  # set by the user before the crawl
    assert backend_after({"ARROW_MEMORY_POOL": "system"}) == "mimalloc"


ARROW_CPP_DEFAULT = """
import screener_crawler
import pyarrow as pa
import pyarrow.parquet as pq
pq.write_table(pa.table({"x": list(range(100_000))}), "{path}")
print(pa.default_memory_pool().backend_name, pa.mimalloc_memory_pool().total_bytes_allocated())
"""


@pytest.mark.parametrize("environment, backend", [({}, "system"), ({"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}, "mimalloc")])
def test_arrows_own_allocations_come_from_the_system_pool_unless_the_environment_says(environment, backend, tmp_path):
    """Importing the package before pyarrow (as Scrapy does, for its settings) makes the C++
    library's default pool, which the Parquet writer allocates from, the system one."""
    import os
    import subprocess
    import sys

    env = {name: value for name, value in os.environ.items() if name != "ARROW_DEFAULT_MEMORY_POOL"}
    code = ARROW_CPP_DEFAULT.replace("{path}", str(tmp_path / "x.parquet"))
    done = subprocess.run([sys.executable, "-c", code], env={**env, **environment}, capture_output=True, text=True,
                          check=True)
    name, mimalloc_bytes = done.stdout.split()
    assert name == backend
    assert (int(mimalloc_bytes) == 0) == (backend == "system")
