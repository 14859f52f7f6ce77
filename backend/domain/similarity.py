"""Near-duplicate detection between short Vietnamese reports.

Cosine over syllable unigrams and bigrams with diacritics folded away, so "đường Hàng Bài ngập" and
"duong hang bai ngap" compare as equal. Two reports that name different streets, lanes or hamlets ("ngập ở phố
Hàng Bài" and "ngập ở phố Lê Lợi") are different matters however alike the rest: their score is scaled down.
The threshold is calibrated on labelled pairs (tests/fixtures/duplicate_pairs.yml) by
tests/bench/bench_duplicates.py, which prints precision (target >= 0.95) and recall.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Final

from nlu.vocab import fold

DUPLICATE_THRESHOLD: Final = 0.45
PLACE_CONFLICT: Final = 0.3  # the score of two reports naming different places is multiplied by this

# Words (folded) that introduce a named place, and words that end a place's name or are not one.
_PLACE_WORDS: Final = frozenset({"duong", "pho", "ngo", "hem", "ngach", "kiet", "thon", "ap", "xom", "kenh"})
_NOT_NAME: Final = frozenset(
    word
    for line in (
        "nay do kia truoc sau chinh lon nho moi cu nha toi minh chung dan bi da dang khong ngap hong qua vao ra",
        "gan ben canh cua o tai thuoc va la co doan nuoc xe khu vuc luc bao nhieu ngay tuan nam dem sang chieu",
        "roi rat con nhung chua",
    )
    for word in line.split()
)


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


def place_names(text: str) -> frozenset[str]:
    """The places a report names after a place word: "ngõ 12 Hàng Bài" → {"hang bai"} (numbers left out)."""
    words = fold(text).split()
    found: set[str] = set()
    for i, word in enumerate(words):
        if word not in _PLACE_WORDS:
            continue
        name: list[str] = []
        for part in words[i + 1 : i + 5]:
            if part.isdigit():
                continue
            if part in _NOT_NAME or part in _PLACE_WORDS or len(name) == 3:
                break
            name.append(part)
        if name:
            found.add(" ".join(name))
    return frozenset(found)


def _different_places(a: str, b: str) -> bool:
    """Both reports name a place the other does not, and those places share no syllable."""
    places_a, places_b = place_names(a), place_names(b)
    only_a, only_b = places_a - places_b, places_b - places_a
    if not only_a or not only_b:
        return False
    syllables_a = {w for name in only_a for w in name.split()}
    return not any(w in syllables_a for name in only_b for w in name.split())


def similarity(a: str, b: str) -> float:
    """How alike two reports are, 0..1: the text's cosine, scaled down when they name places that share nothing."""
    score = cosine(features(a), features(b))
    return score * PLACE_CONFLICT if _different_places(a, b) else score
