"""Audit log of every view and change of personal data by an official, and of every refused login."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.db.models import AuditLog, Official


def audit(session: Session, official: Official, action: str, object_type: str, object_id: str, **detail: Any) -> None:
    session.add(
        AuditLog(
            actor=official.username,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
        )
    )


def audit_login_failure(session: Session, username: str, address: str, channel: str, reason: str) -> None:
    """A refused login: the username tried and the client address, never the password."""
    session.add(
        AuditLog(
            actor="anonymous",
            action="login_failed",
            object_type="official",
            object_id=username[:64],
            detail={"username": username[:200], "address": address[:64], "channel": channel, "reason": reason},
        )
    )
