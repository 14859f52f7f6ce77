"""Reply templates' placeholders: which exist, checking a template's text, and filling it for one ticket."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from backend.domain.deadlines import VN_TZ

PLACEHOLDERS: Final = ("code", "unit", "deadline")  # {code}: ticket code, {unit}: committee, {deadline}: dd/mm/yyyy
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def unknown_placeholders(text: str) -> list[str]:
    """The placeholders of ``text`` that gopy cannot fill (a stray brace counts as one), in order of appearance."""
    unknown = [name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS]
    rest = _PLACEHOLDER.sub("", text)
    if "{" in rest or "}" in rest:
        unknown.append("{" if "{" in rest else "}")
    return unknown


def fill(text: str, *, code: str, unit: str, deadline: datetime | None) -> str:
    """The template's text for one ticket; the deadline in Vietnam time (dd/mm/yyyy), "—" when there is none."""
    values = {
        "code": code,
        "unit": unit,
        "deadline": deadline.astimezone(VN_TZ).strftime("%d/%m/%Y") if deadline is not None else "—",
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
