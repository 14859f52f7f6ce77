"""Rasa 3.x NLU YAML: loading labelled examples from any label set, with errors that name file and line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


class NluDataError(ValueError):
    """Malformed training data; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str  # "intent" or "intent/retrieval" (our categories: "gui_phan_anh/ha_tang")
    source: str  # "file:line"

    @property
    def intent(self) -> str:
        return self.label.split("/", 1)[0]

    @property
    def category(self) -> str | None:
        return self.label.split("/", 1)[1] if "/" in self.label else None


def strip_entities(text: str) -> str:
    """``[Hoàn Kiếm](commune)`` and ``[x]{"entity": ...}`` → plain text."""
    return _ENTITY.sub(lambda m: m.group(1), text)


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    value: dict[str, Any] = dict(loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]
    value["__line__"] = node.start_mark.line + 1
    for key_node, value_node in node.value:
        if getattr(key_node, "value", None) == "examples":
            value["__examples_line__"] = value_node.start_mark.line + 1
    return value


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")))
        elif path.exists():
            files.append(path)
        else:
            raise NluDataError(f"{path}: no such file or directory")
    return files


def load_file(path: Path) -> list[Example]:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise NluDataError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise NluDataError(f"{path}: cannot read: {exc}") from exc
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise NluDataError(f"{path}:1: expected a mapping with an 'nlu' list")
    blocks = doc.get("nlu") or []
    if not isinstance(blocks, list):
        raise NluDataError(f"{path}:{doc.get('__line__', 1)}: 'nlu' must be a list")
    examples: list[Example] = []
    for block in blocks:
        if not isinstance(block, dict):
            raise NluDataError(f"{path}: every item of 'nlu' must be a mapping")
        line = block.get("__line__", "?")
        if "intent" not in block:
            if any(k in block for k in ("synonym", "regex", "lookup")):
                continue  # entity helpers: not used by the classifier
            raise NluDataError(f"{path}:{line}: block without 'intent'")
        label = block["intent"]
        if not isinstance(label, str) or not label.strip():
            raise NluDataError(f"{path}:{line}: 'intent' must be a non-empty string")
        raw = block.get("examples")
        if not isinstance(raw, str):
            raise NluDataError(f"{path}:{line}: intent '{label}' needs an 'examples: |' block")
        first = int(block.get("__examples_line__") or line) + (1 if raw.startswith("\n") is False else 0)
        for offset, row in enumerate(raw.splitlines()):
            row = row.strip()
            if not row:
                continue
            if not row.startswith("- "):
                raise NluDataError(f"{path}:{first + offset}: examples must be '- ' list items, got {row[:40]!r}")
            text = strip_entities(row[2:].strip())
            if text:
                examples.append(Example(text, label.strip(), f"{path}:{first + offset}"))
    return examples


def load_examples(paths: list[Path]) -> list[Example]:
    """All examples under the given files/directories; an error if there are none."""
    files = _files(paths)
    examples = [ex for f in files for ex in load_file(f)]
    if not examples:
        raise NluDataError(f"no training examples found in {', '.join(str(p) for p in paths)}")
    return examples
