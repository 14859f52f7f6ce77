"""One deterministic stand-in for the NLU, shared by the backend tests: a few place names, urgent words, phones."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from handlers.ports import Parser
from nlu.result import ParseResult

PHONE = re.compile(r"0\d{9}")


class KeywordParser(Parser):
    """Finds a few place names (first match wins), flags "cháy"/"lũ" as urgent and reports phone numbers as
    entities; intent is always a petition about infrastructure."""

    PLACES: ClassVar[dict[str, tuple[str, str | None]]] = {
        "hoàn kiếm": ("01", "00070"),
        "sài gòn": ("79", "26734"),
        "hà nội": ("01", None),
    }
    URGENT_WORDS: ClassVar[tuple[str, ...]] = ("cháy", "lũ")
    MODEL = "keyword-test"

    def parse(self, text: str) -> ParseResult:
        low = text.lower()
        loc: dict[str, Any] | None = None
        for name, (province, commune) in self.PLACES.items():
            if name in low:
                loc = {
                    "province_code": province,
                    "commune_code": commune,
                    "province": name,
                    "commune": None,
                    "text": name,
                    "candidates": [],
                    "via_old_address": False,
                }
                break
        phones = [{"entity": "phone", "value": m.group(0)} for m in PHONE.finditer(text)]
        return ParseResult.from_dict(
            {
                "text": text,
                "intent": {"name": "gui_phan_anh", "confidence": 0.9},
                "intent_ranking": [],
                "entities": phones,
                "category": {"name": "ha_tang", "confidence": 0.8},
                "location": loc,
                "urgent": any(word in low for word in self.URGENT_WORDS),
                "low_confidence": False,
                "model": self.MODEL,
            }
        )
