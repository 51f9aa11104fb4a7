"""Files are never half-written: each is written under a hidden temporary name beside its
final one, then renamed into place. ``durable=True`` also flushes the file and its folder to
the disk first, for what must survive a power loss before something else is deleted."""

import os
import threading
from collections.abc import Callable
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}{TEMPORARY_SUFFIX}")


def is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)


def replace_atomically(path: Path | str, write: Callable[[Path], None], durable: bool = False) -> None:
    """Call ``write(temporary)``, then rename the temporary file to ``path``: readers see the
    old file or the new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        write(temporary)
        if durable:
            _fsync(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_directory(path.parent)


def write_bytes_atomically(path: Path | str, data: bytes, durable: bool = False) -> None:
    replace_atomically(path, lambda temporary: Path(temporary).write_bytes(data), durable)


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a deletion in ``directory`` durable."""
    _fsync(directory)


def remove_temporaries(root: Path | str) -> int:
    """Delete the temporary files a killed process left under ``root``; how many went."""
    removed = 0
    for directory, _, names in os.walk(root):
        for name in names:
            if is_temporary(name):
                Path(directory, name).unlink(missing_ok=True)
                removed += 1
    return removed
