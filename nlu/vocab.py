"""The shared vocabulary of gopy, defined once: labels, statuses, ticket codes, diacritic folding, text limits.

Every layer may import this module (bot/, nlu/, handlers/, backend/): it depends on the standard library only and
holds no behaviour beyond these definitions. It lives in ``nlu`` because the NLU is the lowest layer that owns the
labels (intents and categories are its output); SPEC §4 lists the labels, SPEC §6 the statuses and the code format.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Final

# -- text limits -------------------------------------------------------------------------------------------------
# The longest text a ticket (and one message) may have, in characters after NFC normalisation: the chat, the JSON
# API, the console and Open311 all refuse or cut beyond it; the NLU parses at most this much of one message.
MAX_TEXT: Final = 4000

# -- labels (SPEC §4) ----------------------------------------------------------------------------------------------
CHAO_HOI: Final = "chao_hoi"
GUI_PHAN_ANH: Final = "gui_phan_anh"
TRA_CUU_TRANG_THAI: Final = "tra_cuu_trang_thai"
BO_SUNG_THONG_TIN: Final = "bo_sung_thong_tin"
DANH_GIA: Final = "danh_gia"
HUY: Final = "huy"
TRO_GIUP: Final = "tro_giup"
CAM_ON: Final = "cam_on"
DONG_Y: Final = "dong_y"
TU_CHOI_INTENT: Final = "tu_choi"  # the intent "I refuse" (not the status "tu_choi", though spelled the same)
NGOAI_PHAM_VI: Final = "ngoai_pham_vi"

FEEDBACK_INTENT: Final = GUI_PHAN_ANH  # the one intent that carries a category
INTENTS: Final = (
    CHAO_HOI,
    GUI_PHAN_ANH,
    TRA_CUU_TRANG_THAI,
    BO_SUNG_THONG_TIN,
    DANH_GIA,
    HUY,
    TRO_GIUP,
    CAM_ON,
    DONG_Y,
    TU_CHOI_INTENT,
    NGOAI_PHAM_VI,
)

URGENT_CATEGORY: Final = "thien_tai_khan_cap"
OTHER_CATEGORY: Final = "khac"
CATEGORIES: Final = (
    "dat_dai",
    "moi_truong",
    "ha_tang",
    "an_sinh",
    "y_te",
    "giao_duc",
    "an_ninh_trat_tu",
    "can_bo_tham_nhung",
    "thu_tuc_hanh_chinh",
    "kinh_te_viec_lam",
    URGENT_CATEGORY,
    "chinh_sach_phap_luat",
    "khen_ngoi",
    OTHER_CATEGORY,
)

# -- ticket statuses (SPEC §6; the transitions between them are backend/domain/statuses.py) ------------------------
MOI: Final = "moi"
DA_TIEP_NHAN: Final = "da_tiep_nhan"
DANG_XU_LY: Final = "dang_xu_ly"
DA_CHUYEN: Final = "da_chuyen"
DA_TRA_LOI: Final = "da_tra_loi"
DA_DONG: Final = "da_dong"
CAN_BO_SUNG: Final = "can_bo_sung"
TU_CHOI: Final = "tu_choi"

STATUSES: Final = (MOI, DA_TIEP_NHAN, DANG_XU_LY, DA_CHUYEN, DA_TRA_LOI, DA_DONG, CAN_BO_SUNG, TU_CHOI)
OPEN_STATUSES: Final = frozenset({MOI, DA_TIEP_NHAN, DANG_XU_LY, DA_CHUYEN, CAN_BO_SUNG})
FINAL_STATUSES: Final = frozenset({DA_DONG, TU_CHOI})
ANSWERED_STATUSES: Final = frozenset({DA_TRA_LOI, DA_DONG})  # the citizen may rate the handling

# -- ticket codes (SPEC §6): "PA-" + 8 Crockford base32 characters, e.g. PA-7K3Q-M2XD ------------------------------
CODE_PREFIX: Final = "PA"
CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})
# A code as people type it: any case, dashes/underscores/spaces optional, I/L/O/U confusions allowed.
_LOOSE_CODE = r"p\s*a\s*[-_ ]?\s*([0-9a-z]{4})\s*[-_ ]?\s*([0-9a-z]{4})"
_CODE_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9]){_LOOSE_CODE}(?![A-Za-z0-9])", re.IGNORECASE)
_CODE_ALONE = re.compile(rf"\s*{_LOOSE_CODE}\s*", re.IGNORECASE)


def format_ticket_code(body: str) -> str:
    """``7K3QM2XD`` → ``PA-7K3Q-M2XD`` (``body``: 8 Crockford characters)."""
    return f"{CODE_PREFIX}-{body[:4]}-{body[4:]}"


def new_ticket_code() -> str:
    """40 random bits: short to type, not guessable."""
    return format_ticket_code("".join(secrets.choice(CROCKFORD) for _ in range(8)))


def _canonical(a: str, b: str) -> str | None:
    body = (a + b).upper().translate(_CONFUSABLE)
    return format_ticket_code(body) if all(c in CROCKFORD for c in body) else None


def canonical_ticket_code(text: str) -> str | None:
    """The canonical form of a code typed by a person on its own (lower case, missing dashes, I/L/O confusions),
    else None."""
    m = _CODE_ALONE.fullmatch(text)
    return _canonical(m.group(1), m.group(2)) if m else None


def find_ticket_codes(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, canonical code)`` of every ticket code written inside a message."""
    for m in _CODE_IN_TEXT.finditer(text):
        code = _canonical(m.group(1), m.group(2))
        if code:
            yield m.start(), m.end(), code


# -- Vietnamese text: normalisation and diacritic folding ----------------------------------------------------------
def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=8192)
def _plain_char(ch: str) -> str:
    if ch == "đ":
        return "d"
    if ch == "Đ":
        return "D"
    base = unicodedata.normalize("NFD", ch)
    # A letter with marks becomes its base letter; anything else (a lone combining mark included) stays, so the
    # output has one character per input character.
    return base[0] if len(base) > 1 and all(unicodedata.category(c) == "Mn" for c in base[1:]) else ch


class _PlainChars(dict[int, str]):
    """The ``str.translate`` table of ``_plain_char``, filled as characters are met."""

    def __missing__(self, code: int) -> str:
        plain = _plain_char(chr(code))
        if len(self) < 20_000:  # the letters of the language and a few thousand others
            self[code] = plain
        return plain


_PLAIN = _PlainChars()


def strip_diacritics(text: str) -> str:
    """``Đường ngập`` → ``Duong ngap``: case kept, one output character per input character (NFC input)."""
    return text if text.isascii() else text.translate(_PLAIN)


def fold_chars(text: str) -> str:
    """NFC, lower case, no diacritics; one output character per character of the NFC text (positions kept)."""
    return strip_diacritics(nfc(text).lower())


_NOT_WORD = re.compile(r"[^\w\s/]")


def fold(text: str) -> str:
    """A matching key: lower case without diacritics, punctuation to spaces (``/`` kept for commands such as
    ``/start``), single spaces. ``"Đồng ý!"`` → ``"dong y"``."""
    return " ".join(_NOT_WORD.sub(" ", fold_chars(text)).split())
