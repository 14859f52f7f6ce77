"""Ticket codes shown to citizens: ``PA-`` + 8 Crockford base32 characters, e.g. ``PA-7K3Q-M2XD``."""

from __future__ import annotations

import re
import secrets

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})
_LOOSE = re.compile(r"^\s*P\s*A\s*[-_ ]?\s*([0-9A-Z]{4})\s*[-_ ]?\s*([0-9A-Z]{4})\s*$", re.IGNORECASE)


def new_ticket_code() -> str:
    """40 random bits: short to type, not guessable."""
    chars = "".join(secrets.choice(CROCKFORD) for _ in range(8))
    return f"PA-{chars[:4]}-{chars[4:]}"


def canonical_ticket_code(text: str) -> str | None:
    """Canonical form of a code typed by a person (lower case, missing dashes, I/L/O confusions), else None."""
    m = _LOOSE.match(text.upper())
    if not m:
        return None
    body = (m.group(1) + m.group(2)).translate(_CONFUSABLE)
    if any(c not in CROCKFORD for c in body):
        return None
    return f"PA-{body[:4]}-{body[4:]}"
