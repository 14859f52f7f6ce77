"""Near-duplicate detection between short Vietnamese reports.

Cosine over syllable unigrams and bigrams with diacritics folded away, so "đường Hàng Bài ngập" and
"duong hang bai ngap" compare as equal.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections import Counter

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def fold(text: str) -> str:
    """Lower case, no diacritics (đ → d), punctuation to spaces."""
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return " ".join(_NON_WORD.sub(" ", text).split())


def features(text: str) -> Counter[str]:
    words = fold(text).split()
    bag = Counter(words)
    bag.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return bag


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b[k] for k, v in a.items() if k in b)
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))


def similarity(a: str, b: str) -> float:
    return cosine(features(a), features(b))
