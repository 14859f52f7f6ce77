"""Word segmentation with underthesea (offline), cached."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=20000)
def segment(text: str) -> str:
    """``"nhà tôi bị ngập"`` → ``"nhà tôi bị ngập"`` with multi-syllable words joined by ``_``."""
    from underthesea import word_tokenize

    result: str = word_tokenize(text, format="text")
    return result
