"""Near-duplicate detection between short Vietnamese reports.

Cosine over syllable unigrams and bigrams with diacritics folded away, so "đường Hàng Bài ngập" and
"duong hang bai ngap" compare as equal.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

from nlu.vocab import fold


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
