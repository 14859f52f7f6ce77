"""Audit log of every view and change of personal data by an official."""

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
