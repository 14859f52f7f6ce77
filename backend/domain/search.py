"""The folded search key of a ticket: what the inbox's text search (``q``) matches against.

Lower case, no diacritics, punctuation to spaces (:func:`nlu.vocab.fold`), so that "ngap sau le loi" finds
"Ngập sâu ở đường Lê Lợi" and "pa-7k2m" finds the ticket code PA-7K2M-....

Every word of a query must occur somewhere in the key (``LIKE '%word%'``). PostgreSQL serves these tests with a
pg_trgm GIN index; SQLite with an FTS5 table of the same key and the ``trigram`` tokenizer (:data:`SEARCH_INDEX`),
which answers substring queries of three characters or more (:func:`fts_query`).
"""

from __future__ import annotations

from nlu.vocab import fold

SEARCH_INDEX = "tickets_search"  # SQLite: the FTS5 table over tickets.search_text (migration 0012)
TRIGRAM = 3  # the shortest word the trigram index can look up


def search_key(code: str | None, text: str | None, place: str | None) -> str:
    """One folded string of the ticket's code, text and place description."""
    return " ".join(fold(part) for part in (code, text, place) if part)


def search_terms(query: str) -> list[str]:
    """The words of a search query, folded; every word must occur in a ticket's key (in any order)."""
    return fold(query).split()[:12]


def fts_query(terms: list[str]) -> str | None:
    """An FTS5 MATCH expression requiring every word of at least :data:`TRIGRAM` characters as a substring (each a
    quoted string, so no word is read as FTS5 syntax); None when no word is that long."""
    long_enough = [t for t in dict.fromkeys(terms) if len(t) >= TRIGRAM]
    if not long_enough:
        return None
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in long_enough)
