"""Rotating channel credentials (e.g. Zalo OA tokens) persisted in the database, shared by every process."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.orm import Session

from backend.db.models import Credential, utcnow

SessionScope = Callable[[], AbstractContextManager[Session]]


class CredentialStore:
    def __init__(self, scope: SessionScope, name: str) -> None:
        self._scope = scope
        self.name = name

    def load(self) -> dict[str, Any] | None:
        with self._scope() as session:
            row = session.get(Credential, self.name)
            return dict(row.data) if row is not None else None

    def save(self, data: dict[str, Any]) -> None:
        with self._scope() as session:
            row = session.get(Credential, self.name)
            if row is None:
                session.add(Credential(name=self.name, data=data, updated_at=utcnow()))
            else:
                row.data, row.updated_at = data, utcnow()
            session.commit()
