"""The folded search key of a ticket: what the inbox's text search (``q``) matches against.

Lower case, no diacritics, punctuation to spaces (:func:`nlu.vocab.fold`), so that "ngap sau le loi" finds
"Ngập sâu ở đường Lê Lợi" and "pa-7k2m" finds the ticket code PA-7K2M-....
"""

from __future__ import annotations

from nlu.vocab import fold


def search_key(code: str | None, text: str | None, place: str | None) -> str:
    """One folded string of the ticket's code, text and place description."""
    return " ".join(fold(part) for part in (code, text, place) if part)


def search_terms(query: str) -> list[str]:
    """The words of a search query, folded; every word must occur in a ticket's key (in any order)."""
    return fold(query).split()[:12]
