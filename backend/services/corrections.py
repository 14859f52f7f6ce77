"""Officials' corrections exported as Rasa NLU YAML, ready to be added to the training data.

Only corrections an admin accepted in the NLU workbench (or a majority of officials agreed on) are exported, with
their reviewed label; place corrections are not text examples (they become place aliases). Exports accumulate: each
run merges the corrections not exported yet into the file, keeping every example already in it (including the
administrator's own edits), so a second export never drops the first batch. Running it again
changes nothing. When the same text was corrected twice, the later label wins (the example moves). An export with
nothing to add leaves the file as it is and does not create an empty one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import NluCorrection
from nlu.rasa_data import strip_entities


class CorrectionsFileError(ValueError):
    """The existing corrections file cannot be read as Rasa NLU data; it is left untouched."""


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


@dataclass
class _Block:
    """One ``nlu:`` item: an intent with its examples (raw lines, annotations kept), or anything else verbatim."""

    label: str | None
    examples: list[str] = field(default_factory=list)
    other: dict[str, Any] = field(default_factory=dict)


def _key(text: str) -> str:
    return " ".join(strip_entities(text).split())


def _read(path: Path) -> list[_Block]:
    if not path.exists():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CorrectionsFileError(
            f"{path}: cannot read it as YAML ({exc}); fix or move it, then export again"
        ) from exc
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("nlu") or [], list):
        raise CorrectionsFileError(f"{path}: expected Rasa NLU data (a mapping with an 'nlu' list)")
    blocks: list[_Block] = []
    for item in doc.get("nlu") or []:
        if isinstance(item, dict) and isinstance(item.get("intent"), str) and isinstance(item.get("examples"), str):
            rows = [r.strip() for r in item["examples"].splitlines()]
            blocks.append(_Block(item["intent"].strip(), [r[2:].strip() for r in rows if r.startswith("- ")]))
        elif isinstance(item, dict) and "intent" not in item:
            blocks.append(_Block(None, other=item))  # synonym, regex, lookup: kept as they are
        else:
            raise CorrectionsFileError(f"{path}: every intent in 'nlu' needs an 'examples: |' block")
    return blocks


def _dump(blocks: list[_Block]) -> str:
    items: list[dict[str, Any]] = []
    for block in blocks:
        if block.label is None:
            items.append(
                {k: _Literal(v) if k == "examples" and isinstance(v, str) else v for k, v in block.other.items()}
            )
        elif block.examples:
            items.append({"intent": block.label, "examples": _Literal("".join(f"- {t}\n" for t in block.examples))})
    return yaml.safe_dump({"version": "3.1", "nlu": items}, allow_unicode=True, sort_keys=False)


def export_corrections(session: Session, path: Path, *, include_exported: bool = False) -> int:
    """Merge the corrections into ``path`` (``version: "3.1"`` Rasa NLU data); returns how many examples were added
    or moved to another label. With ``include_exported``, corrections exported before are merged again (examples
    already in the file are not repeated), e.g. to rebuild a deleted file."""
    query = (
        select(NluCorrection)
        .where(
            NluCorrection.status == "accepted",
            NluCorrection.kind.in_(("category", "not_petition")),
            NluCorrection.label.is_not(None),
        )
        .order_by(NluCorrection.reviewed_at, NluCorrection.id)
    )
    if not include_exported:
        query = query.where(NluCorrection.exported.is_(False))
    rows = list(session.scalars(query))
    blocks = _read(path)
    changed = 0
    for row in rows:
        label = row.label or row.corrected
        text = " ".join(row.text.split())  # one example per line
        if not text or "[" in text:  # "[" would read as an entity annotation
            continue
        key = _key(text)
        if any(b.label == label and key in map(_key, b.examples) for b in blocks):
            continue  # already there: exporting again changes nothing
        for block in blocks:  # a later correction of the same text wins
            if block.label is not None:
                block.examples = [e for e in block.examples if _key(e) != key]
        target = next((b for b in blocks if b.label == label), None)
        if target is None:
            target = _Block(label)
            blocks.append(target)
        target.examples.append(text)
        changed += 1
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(_dump(blocks), encoding="utf-8")
        tmp.replace(path)
    for row in rows:
        row.exported = True
    session.commit()
    return changed
