"""What the writer knows of every file it writes (rows, nulls per column, and that its schema is
the declared one), kept beside the data so that ``scrapy status`` need not read millions of
Parquet footers to learn it again.

One small JSON file per write: ``<root>/_file_facts/<dataset>/<unit>.json``, where ``<unit>`` is
the unit file's name without ``.parquet`` (``ticker=AAPL``, ``universe``), or
``partition=YYYY-MM`` for a grouped-daily month. Each fact names a file by its path under the
dataset folder and by its size, modification time and inode: a file rewritten or touched since
(even by the crawler, under another unit's facts) no longer matches, and ``status`` reads its
footer. Facts written for another declared schema are ignored, so a changed schema is still
caught. The folder's leading underscore keeps it out of pyarrow's, Spark's and ``status``'s view
of the datasets.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FOLDER = "_file_facts"


@cache
def schema_fingerprint(schema):
    """A short digest of a declared schema (field names, types, nullability, order)."""
    return hashlib.sha256(schema.remove_metadata().serialize().to_pybytes()).hexdigest()[:16]


def null_counts(dataset, table):
    """Nulls per column of ``table`` (written for ``dataset``), None where
    ``Dataset.null_counted`` says they are not counted."""
    return [column.null_count if counted else None
            for counted, column in zip(dataset.null_counted, table.columns)]


def fact(root, dataset, path, table):
    """The fact of ``path`` (a file of ``dataset`` under ``root``, just written with ``table``):
    ``[path under the dataset folder, size, mtime_ns, inode, rows, nulls per column]``."""
    status = os.stat(path)
    folder, path = os.path.join(os.fspath(root), dataset.name), os.fspath(path)
    relative = path[len(folder) + 1:] if path.startswith(folder + os.sep) else os.path.relpath(path, folder)
    return [relative, status.st_size, status.st_mtime_ns, status.st_ino, table.num_rows, null_counts(dataset, table)]


def facts_path(root, dataset, unit):
    return Path(root) / FOLDER / dataset.name / f"{unit}.json"


def document(dataset, facts):
    """The text of a facts file holding ``facts`` of ``dataset``'s files."""
    return json.dumps({"schema": schema_fingerprint(dataset.schema), "files": facts}, separators=(",", ":"))


@dataclass(frozen=True)
class FileFact:
    relative_path: str
    size: int
    mtime_ns: int
    inode: int
    rows: int
    nulls: list

    def matches(self, status):
        return (status.st_size, status.st_mtime_ns, status.st_ino) == (self.size, self.mtime_ns, self.inode)


def facts_files(root, dataset):
    """Every facts file of ``dataset``, temporaries left out."""
    folder = Path(root) / FOLDER / dataset.name
    try:
        return [entry.path for entry in os.scandir(folder)
                if entry.name.endswith(".json") and not entry.name.startswith(".")]
    except FileNotFoundError:
        return []


def read_facts(path, dataset):
    """The facts in ``path``, none when it is unreadable or was written for another schema."""
    try:
        document = json.loads(Path(path).read_text())
        if document.get("schema") != schema_fingerprint(dataset.schema):
            return []
        return [FileFact(*entry) for entry in document["files"]]
    except (OSError, ValueError, TypeError, KeyError):
        return []
