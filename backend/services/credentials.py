"""Rotating channel credentials (e.g. Zalo OA tokens) persisted in the database, shared by every process."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
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

    def add(self, data: dict[str, Any]) -> bool:
        """Store ``data`` unless a row exists already (another process may be seeding it at the same moment)."""
        with self._scope() as session:
            if session.get(Credential, self.name) is not None:
                return False
            session.add(Credential(name=self.name, data=data, updated_at=utcnow()))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
            return True

    def replace_if(self, field: str, expected: Any, data: dict[str, Any]) -> bool:
        """Replace the row only if ``row[field] == expected`` still (row locked while checking)."""
        with self._scope() as session:
            row = session.execute(
                select(Credential).where(Credential.name == self.name).with_for_update()
            ).scalar_one_or_none()
            if row is None or row.data.get(field) != expected:
                session.rollback()
                return False
            row.data, row.updated_at = data, utcnow()
            session.commit()
            return True

    def save(self, data: dict[str, Any]) -> None:
        if self.add(data):
            return
        with self._scope() as session:
            row = session.get(Credential, self.name)
            assert row is not None
            row.data, row.updated_at = data, utcnow()
            session.commit()
