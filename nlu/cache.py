"""Derived data built once and stored beside the models: the location index, the compiled word segmenter.

Each cache file is named by a hash of what it is built from (the data files and the code version), so a change of
the data gives a new name and a rebuild; a missing, unreadable or corrupt file is rebuilt and the process carries
on; a cache directory that cannot be written is only a slower start. The files are written atomically (a temporary
file renamed into place), so concurrent processes never read half a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
CACHE_DIR = ".cache"  # inside the model store
KEEP = 2  # cache files of one kind kept (the current and the previous data version)

log = logging.getLogger(__name__)


def cache_dir_of(store_root: Path) -> Path:
    return Path(store_root) / CACHE_DIR


def files_digest(paths: Iterable[Path], extra: str = "") -> str:
    """A short hash of the files' names and contents, plus ``extra`` (the format version of the cache)."""
    h = hashlib.sha256(extra.encode())
    for path in paths:
        h.update(b"\0" + Path(path).name.encode() + b"\0")
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:20]


def _write(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)
    kind = path.name.split("-", 1)[0] + "-"
    older = sorted(
        (p for p in path.parent.glob(f"{kind}*") if p != path and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in older[KEEP - 1 :]:
        stale.unlink(missing_ok=True)


def cached_build(
    path: Path,
    build: Callable[[], T],
    dump: Callable[[Any], bytes],
    load: Callable[[bytes], Any],
    valid: Callable[[Any], bool],
) -> T:
    """The object stored at ``path`` if it loads and is ``valid``; otherwise ``build()`` it and store it."""
    try:
        found = load(path.read_bytes())
        if valid(found):
            result: T = found
            return result
        log.warning("cache file %s holds something else: rebuilding it", path)
    except FileNotFoundError:
        pass
    except Exception as exc:  # a corrupt cache of any kind is rebuilt, never fatal
        log.warning("cache file %s is unreadable (%s): rebuilding it", path, exc)
    built = build()
    try:
        _write(path, dump(built))
    except (OSError, ValueError, TypeError) as exc:  # a read-only store only costs a slower start
        log.warning("cannot write cache file %s: %s", path, exc)
    return built
