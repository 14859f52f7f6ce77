"""Simple entities: phone numbers, ticket codes (SPEC §6, read by ``nlu.vocab``) and dates/times."""

from __future__ import annotations

import re
from typing import Any

from nlu.vocab import find_ticket_codes

_PHONE = re.compile(r"(?<![\d+])(?:\+?84|0)(?:[\s.-]?\d){8,10}(?!\d)")
# Dates said in words; every other form of a date below holds a digit.
_DATE_WORDS = (
    r"\b(?:hôm nay|hôm qua|hôm kia|sáng nay|chiều nay|tối nay|đêm qua|tối qua|sáng qua|chiều qua|tuần trước|"
    r"tháng trước|hom nay|hom qua|sang nay|chieu nay|toi nay|dem qua|toi qua|tuan truoc|thang truoc)\b"
)
_DATE = re.compile(
    _DATE_WORDS + r"|\b(?:ngày|ngay)\s+\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?\b"
    r"|\b\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?\b"
    r"|\b(?:ngày|ngay)\s+\d{1,2}(?:\s+(?:tháng|thang)\s+\d{1,2})?(?:\s+(?:năm|nam)\s+\d{4})?\b"
    r"|\b\d{1,2}\s*(?:h|giờ|gio)(?:\s*\d{1,2})?\b",
    re.I,
)
_DATE_IN_WORDS = re.compile(_DATE_WORDS, re.I)  # ``_DATE`` on a text without digits: it finds the same
_DIGIT = re.compile(r"\d")


def _entity(name: str, value: str, start: int, end: int, confidence: float = 1.0) -> dict[str, Any]:
    return {
        "entity": name,
        "value": value,
        "start": start,
        "end": end,
        "confidence": confidence,
        "extractor": "gopy_rules",
    }


def extract(text: str) -> list[dict[str, Any]]:
    found = [_entity("ticket_code", code, start, end) for start, end, code in find_ticket_codes(text)]
    taken = [(e["start"], e["end"]) for e in found]
    digits_in_text = _DIGIT.search(text) is not None  # a phone number and most dates hold digits
    for m in _PHONE.finditer(text) if digits_in_text else ():
        if any(s <= m.start() < e for s, e in taken):
            continue
        digits = re.sub(r"\D", "", m.group(0))
        if digits.startswith("84"):
            digits = "0" + digits[2:]
        if 10 <= len(digits) <= 11:
            found.append(_entity("phone", digits, m.start(), m.end()))
    for m in (_DATE if digits_in_text else _DATE_IN_WORDS).finditer(text):
        if not any(s <= m.start() < e for s, e in taken):
            found.append(_entity("date", m.group(0).lower(), m.start(), m.end(), 0.8))
    return sorted(found, key=lambda e: e["start"])
