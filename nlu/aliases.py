"""Reviewed place aliases: local names the gazetteer does not know (a hamlet, an old or popular name) → a commune.

Admins accept officials' place fixes in the NLU workbench; the backend writes the aliases to ``aliases.yml`` in the
model store (:func:`write_aliases`), beside the models, so every process serving a model finds them.
:class:`AliasedLocations` wraps the location extractor: when the extractor finds no commune, a known alias in the
text gives it. The file is looked at again at most every :data:`CHECK_SECONDS` (as a model activation is), so an
accepted alias is used everywhere within seconds, without a restart.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import yaml

from nlu.cache import cache_dir_of
from nlu.gazetteer import key
from nlu.location import LocationExtractor, LocationMatch
from nlu.vocab import fold_chars

ALIASES_FILE = "aliases.yml"
CHECK_SECONDS = 10.0


def alias_key(name: str) -> str:
    """How an alias is matched: folded, punctuation removed, single spaces."""
    return key(name)


def load_aliases(path: Path) -> dict[str, str]:
    """``{name: commune code}`` from the aliases file; an absent or unreadable file is no aliases."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    items = doc.get("aliases") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return {}
    return {
        str(i["name"]): str(i["commune"]) for i in items if isinstance(i, dict) and i.get("name") and i.get("commune")
    }


def write_aliases(path: Path, aliases: dict[str, str]) -> Path:
    """Write the aliases atomically, sorted (the same aliases give the same file)."""
    items = [{"name": n, "commune": c} for n, c in sorted(aliases.items(), key=lambda kv: alias_key(kv[0]))]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(
        "# Reviewed place aliases (gopy NLU workbench): local name → commune code. Written by gopy; do not edit.\n"
        + yaml.safe_dump({"aliases": items}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    os.replace(tmp, path)
    return path


class AliasedLocations:
    """The location extractor plus the reviewed aliases of ``path`` (re-read when the file changes)."""

    def __init__(self, inner: LocationExtractor, path: Path) -> None:
        self.inner = inner
        self.path = path
        self._stamp: float | None = None
        self._checked = -CHECK_SECONDS
        self._patterns: list[tuple[re.Pattern[str], str]] = []

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < CHECK_SECONDS:
            return
        self._checked = now
        try:
            stamp: float | None = self.path.stat().st_mtime
        except OSError:
            stamp = None
        if stamp == self._stamp:
            return
        self._stamp = stamp
        patterns = []
        for name, code in load_aliases(self.path).items():
            words = alias_key(name).split()
            if words and self.inner.g.get(code) is not None:
                body = r"[\W_]+".join(re.escape(w) for w in words)
                patterns.append((re.compile(rf"(?<!\w){body}(?!\w)"), code))
        patterns.sort(key=lambda p: -len(p[0].pattern))  # the longest name first
        self._patterns = patterns

    def extract(self, text: str) -> LocationMatch | None:
        found = self.inner.extract(text)
        if found is not None and found.commune is not None:
            return found
        self._refresh()
        if not self._patterns:
            return found
        folded = fold_chars(text)
        for pattern, code in self._patterns:
            m = pattern.search(folded)
            if m is None:
                continue
            commune = self.inner.g.get(code)
            province = self.inner.g.get(commune.parent_code) if commune and commune.parent_code else None
            if commune is None or (found is not None and found.province not in (None, province)):
                continue  # the text names another province: the alias is not about this place
            return LocationMatch(
                province=province,
                commune=commune,
                candidates=(),
                start=m.start(),
                end=m.end(),
                matched_text=text[m.start() : m.end()],
                via_old_address=False,
                confidence=0.9,
            )
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def with_aliases(store_root: Path) -> AliasedLocations:
    """The location extractor with the aliases file of a model store; its index is kept in the store's cache
    directory (built once, rebuilt when the gazetteer data change)."""
    return AliasedLocations(LocationExtractor.cached(cache_dir_of(store_root)), store_root / ALIASES_FILE)
