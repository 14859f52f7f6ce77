"""Ticket codes shown to citizens: ``PA-`` + 8 Crockford base32 characters, e.g. ``PA-7K3Q-M2XD``.

The format, the generator and the reading of typed codes are the shared vocabulary's (``nlu.vocab``), so the chat,
the NLU and the backend read a code the same way; this module names them for the backend.
"""

from __future__ import annotations

from nlu.vocab import CROCKFORD as CROCKFORD
from nlu.vocab import canonical_ticket_code as canonical_ticket_code
from nlu.vocab import new_ticket_code as new_ticket_code
