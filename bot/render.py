"""Rendering for platforms: split long text on sentence boundaries; buttons degrade to numbered text."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.messages import Button

_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?…])\s+"), re.compile(r"\s+"))


def split_text(text: str, limit: int) -> list[str]:
    """Chunks of at most ``limit`` characters, cut at paragraph, line, sentence, then word boundaries."""
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    chunks: list[str] = []
    while len(text) > limit:
        cut = -1
        for pattern in _BREAKS:
            ends = [m.start() for m in pattern.finditer(text, 0, limit + 1) if 0 < m.start() <= limit]
            if ends:
                cut = ends[-1]
                break
        if cut <= 0:
            cut = limit  # one giant token: hard cut
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return chunks


def numbered_menu(text: str, buttons: Sequence[Button], hint: str) -> str:
    """Buttons as a numbered list, for chats without buttons; ``hint`` (the ``menu_hint`` reply template) says to
    answer with the number."""
    if not buttons:
        return text
    lines = [f"{i}. {b.title}" for i, b in enumerate(buttons, 1)]
    return "\n".join([text, "", *lines, *([hint] if hint else [])])
