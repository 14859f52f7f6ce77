"""Officials' corrections exported as Rasa NLU YAML, ready to be added to the training data."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import NluCorrection


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


def export_corrections(session: Session, path: Path, *, include_exported: bool = False) -> int:
    """Write the corrections as ``version: "3.1"`` Rasa NLU data; returns how many examples were written."""
    query = select(NluCorrection).order_by(NluCorrection.id)
    if not include_exported:
        query = query.where(NluCorrection.exported.is_(False))
    rows = list(session.scalars(query))
    by_label: dict[str, dict[str, None]] = defaultdict(dict)
    for row in rows:
        text = " ".join(row.text.split())  # one example per line
        if text and "[" not in text:
            by_label[row.corrected][text] = None
    doc = {
        "version": "3.1",
        "nlu": [
            {"intent": label, "examples": _Literal("".join(f"- {t}\n" for t in texts))}
            for label, texts in sorted(by_label.items())
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    for row in rows:
        row.exported = True
    session.commit()
    return sum(len(t) for t in by_label.values())
