"""The console's login and logout as use cases: check, open or close the server-side session, audit, commit."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.db.models import Official
from backend.services.accounts import LoginGuard, close_console_session, open_console_session
from backend.services.audit import audit


def console_login(
    session: Session, guard: LoginGuard, username: str, password: str, address: str, ttl_seconds: int
) -> str:
    """A new console session id for the official, or raise ``LoginTooFast`` / ``LookupError``; the refusal is
    audited and committed all the same."""
    try:
        official = guard.authenticate(session, username, password, address, "console")
    except Exception:
        session.commit()
        raise
    session_id = open_console_session(session, official, ttl_seconds)
    audit(session, official, "login", "official", official.username, channel="console")
    session.commit()
    return session_id


def console_logout(session: Session, official: Official, session_id: str) -> None:
    """End the session on the server: a copied cookie dies too."""
    close_console_session(session, session_id)
    audit(session, official, "logout", "official", official.username, channel="console")
    session.commit()
