"""Vietnamese text normalisation: NFC, tone-mark placement, case, teencode (folding itself is ``nlu.vocab``)."""

from __future__ import annotations

import re
from functools import lru_cache

from nlu.vocab import nfc, strip_diacritics

# Old-style tone placement (hoà, thuý, quỳ...) → the modern one used by most keyboards today (hòa, thúy).
_TONE_FIX = {
    "oà": "òa",
    "oá": "óa",
    "oả": "ỏa",
    "oã": "õa",
    "oạ": "ọa",
    "oè": "òe",
    "oé": "óe",
    "oẻ": "ỏe",
    "oẽ": "õe",
    "oẹ": "ọe",
    "uỳ": "ùy",
    "uý": "úy",
    "uỷ": "ủy",
    "uỹ": "ũy",
    "uỵ": "ụy",
}
# only where the pair ends the syllable ("hoà" → "hòa"): in "hoàng", "thoại", "khoản", "huỳnh" the mark belongs on
# the second vowel in either style, and moving it made words that no dictionary holds ("hòang", "thọai")
# nor after "q" ("quý": "qu" is the consonant)
_TONE_RE = re.compile(r"(?<!q)(?:" + "|".join(_TONE_FIX) + r")(?!\w)")

# Abbreviations and chat spelling; matched on whole words of the lower-cased text.
ABBREVIATIONS: dict[str, str] = {
    "ko": "không",
    "k": "không",
    "kg": "không",
    "khong": "không",
    "hok": "không",
    "hong": "không",
    "hông": "không",
    "hem": "không",
    "khum": "không",
    "k0": "không",
    "dc": "được",
    "đc": "được",
    "dk": "được",
    "đk": "được",
    "duoc": "được",
    "j": "gì",
    "gj": "gì",
    "ntn": "như thế nào",
    "nt": "như thế",
    "bv": "bệnh viện",
    "ubnd": "ủy ban nhân dân",
    "ub": "ủy ban",
    "hđnd": "hội đồng nhân dân",
    "mttq": "mặt trận tổ quốc",
    "tp": "thành phố",
    "tx": "thị xã",
    "tt": "thị trấn",
    "mn": "mọi người",
    "ae": "anh em",
    "vs": "với",
    "ng": "người",
    "ngta": "người ta",
    "nc": "nước",
    "bh": "bao giờ",
    "bjo": "bây giờ",
    "bgio": "bây giờ",
    "r": "rồi",
    "roi": "rồi",
    "cx": "cũng",
    "cg": "cũng",
    "z": "vậy",
    "v": "vậy",
    "zậy": "vậy",
    "dzậy": "vậy",
    "dzay": "vậy",
    "trc": "trước",
    "sdt": "số điện thoại",
    "sđt": "số điện thoại",
    "đt": "điện thoại",
    "bhyt": "bảo hiểm y tế",
    "bhxh": "bảo hiểm xã hội",
    "cccd": "căn cước công dân",
    "cmnd": "chứng minh nhân dân",
    "gplx": "giấy phép lái xe",
    "qsdđ": "quyền sử dụng đất",
    "qsdd": "quyền sử dụng đất",
    "sổ đỏ": "sổ đỏ",
    "pccc": "phòng cháy chữa cháy",
    "csgt": "cảnh sát giao thông",
    "thks": "cảm ơn",
    "thanks": "cảm ơn",
    "tks": "cảm ơn",
    "thank": "cảm ơn",
    "camon": "cảm ơn",
    "oke": "ok",
    "okie": "ok",
    "okela": "ok",
    "uk": "ừ",
    "uh": "ừ",
    "um": "ừ",
    "ukm": "ừ",
    "ad": "admin",
    "bn": "bao nhiêu",
    "bnhiu": "bao nhiêu",
    "wa": "quá",
    "qa": "quá",
    "lun": "luôn",
    "ntn?": "như thế nào",
}
_WORD_RE = re.compile(r"\w+[?]?|[^\w\s]", re.UNICODE)
# Punctuation set apart by spaces (``str.translate``: one pass, no regular expression).
PUNCT_APART = {ord(ch): f" {ch} " for ch in ".,;:!?()\"'"}


def fix_tone_marks(text: str) -> str:
    """``hoà`` → ``hòa``, ``thuý`` → ``thúy`` (lower-case input)."""
    return _TONE_RE.sub(lambda m: _TONE_FIX[m.group(0)], text)


@lru_cache(maxsize=4096)
def lowered_words(text: str) -> tuple[str, ...]:
    """The words of ``text`` in NFC and lower case, with modern tone marks and punctuation set apart: what
    ``normalize`` expands and the urgency cues read (remembered: both read every message, one after the other)."""
    return tuple(fix_tone_marks(nfc(text).lower()).translate(PUNCT_APART).split())


def normalize(text: str) -> str:
    """NFC, lower case, modern tone marks, punctuation spaced, abbreviations expanded, spaces collapsed."""
    words = lowered_words(text)  # split() collapses the spaces (the same characters as the pattern \s)
    return " ".join(map(ABBREVIATIONS.get, words, words))


def has_diacritics(text: str) -> bool:
    return strip_diacritics(text) != text
