"""Urgency: emergencies and threats to life, independent of the category (with or without diacritics)."""

from __future__ import annotations

import re

from nlu.normalize import strip_diacritics

# Matched on lower-cased, diacritic-free text.
_URGENT = re.compile(
    r"\b(?:cuu|cuu voi|cuu nguoi|cuu toi|khan cap|gap lam|nguy hiem|chay nha|dang chay|bi chay|chay lon|hoa hoan|"
    r"chay rung|no bình gas|no gas|mac ket|bi ket|ket trong|nuoc dang len|lu dang|lu len|lu quet|lu ong|"
    r"ngap toi mai|ngap den mai|sat lo|sap nha|sap cau|bi vui|chet duoi|duoi nuoc|bat coc|dam chem|dam nguoi|"
    r"chem nguoi|danh chet|doa giet|doi giet|tu tu|muon chet|bao to|bao dang|ap thap|dong dat|tran de|vo de|"
    r"be ngat|ngat xiu|bat tinh|dang cap cuu|can cap cuu|keu cuu|tre lac)\b"
)
_NEGATED = re.compile(r"\b(?:khong|chua|het)\s+(?:con\s+)?(?:nguy hiem|khan cap)\b")


def is_urgent(text: str, category: str | None = None, category_confidence: float = 0.0) -> bool:
    folded = strip_diacritics(text.lower())
    if _URGENT.search(folded) and not _NEGATED.search(folded):
        return True
    return category == "thien_tai_khan_cap" and category_confidence >= 0.5
