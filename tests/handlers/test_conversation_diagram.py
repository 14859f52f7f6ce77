"""The Mermaid diagram in handlers/conversation.md is the transition table, edge for edge."""

from __future__ import annotations

import re
from pathlib import Path

from handlers.state import QUESTION_STATES, TRANSITIONS

DOC = Path(__file__).resolve().parents[2] / "handlers" / "conversation.md"
EDGE = re.compile(r"^\s*(\w+)\s*-->\s*(\w+)")


def diagram_edges() -> set[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    edges = {(m[1], m[2]) for line in text.splitlines() if (m := EDGE.match(line))}
    for target in ("idle", "await_rating"):
        found = re.search(rf"^to {target} from: (.+)$", text, re.M)
        assert found, f"the note listing edges into {target} is missing"
        edges |= {(s.strip(), target) for s in found.group(1).split(",")}
    return edges


def test_diagram_and_table_agree() -> None:
    drawn = diagram_edges()
    assert drawn - TRANSITIONS == set(), "drawn but not allowed"
    assert TRANSITIONS - drawn == set(), "allowed but not drawn"


def test_every_question_state_can_be_left() -> None:
    for state in QUESTION_STATES:
        assert (state, "idle") in TRANSITIONS
