"""Officials' sessions and logins: server-side console sessions, revocable API tokens, throttled and audited logins.

- A console session is a random id in the cookie; the database keeps only its SHA-256 (``OfficialSession``), so a
  leaked database row cannot be replayed, and logging out revokes the row: the cookie is dead even if it was stolen.
- An API token carries the official's ``token_version``; bumping the version revokes every token issued before.
- Failed logins count per account and per client address in Redis (fixed windows: a throttle, never a permanent
  lock-out) and each one is written to the audit log with the username tried and the address, never the password.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from backend.db.models import Official, OfficialSession
from backend.services.audit import audit_login_failure
from backend.services.security import verify_password
from backend.services.throttle import Limit, Throttle

MAX_USERNAME = 64
MAX_PASSWORD = 1024


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_console_session(session: Session, official: Official, ttl_seconds: int) -> str:
    """Record a new console session and return its id (for the cookie). Expired rows of the official are dropped."""
    now = datetime.now(UTC)
    session.execute(
        delete(OfficialSession).where(OfficialSession.official_id == official.id, OfficialSession.expires_at < now)
    )
    session_id = secrets.token_urlsafe(32)
    session.add(
        OfficialSession(
            id_hash=_hash(session_id),
            official_id=official.id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    return session_id


def console_session_official(session: Session, session_id: str) -> Official | None:
    """The active official of a live (not revoked, not expired) console session, else ``None``."""
    if not session_id or len(session_id) > 128:
        return None
    row = session.get(OfficialSession, _hash(session_id))
    if row is None or row.revoked_at is not None or row.expires_at <= datetime.now(UTC):
        return None
    official = session.get(Official, row.official_id)
    return official if official is not None and official.active else None


def close_console_session(session: Session, session_id: str) -> None:
    row = session.get(OfficialSession, _hash(session_id)) if session_id else None
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)


def revoke_all(session: Session, official: Official) -> int:
    """End every console session of ``official`` and revoke every API token issued to it; return the new version."""
    session.execute(
        update(OfficialSession)
        .where(OfficialSession.official_id == official.id, OfficialSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    official.token_version = (official.token_version or 0) + 1
    return official.token_version


def deactivate(session: Session, official: Official) -> None:
    """Deactivate an account; its sessions and tokens end now and stay dead if it is reactivated later."""
    official.active = False
    revoke_all(session, official)


@dataclass(frozen=True)
class LoginLimits:
    per_account: int = 5
    per_address: int = 20
    window_seconds: int = 15 * 60


class LoginTooFast(Exception):
    """Too many failed logins for this account or from this address: wait ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = max(1, int(retry_after + 0.999))


class LoginGuard:
    """Checks a login against the throttles, verifies the password, counts and audits failures."""

    def __init__(self, throttle: Throttle, limits: LoginLimits) -> None:
        self._throttle = throttle
        self._limits = limits

    def _subjects(self, username: str, address: str) -> list[tuple[str, str, Limit]]:
        window = self._limits.window_seconds
        account = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]  # any text, bounded key
        return [
            ("login-account", account, Limit(self._limits.per_account, window)),
            ("login-address", address, Limit(self._limits.per_address, window)),
        ]

    def authenticate(self, session: Session, username: str, password: str, address: str, channel: str) -> Official:
        """The official, or raise :class:`LoginTooFast` / ``LookupError`` (wrong name or password).

        A failure is audited in ``session``: the caller commits it.
        """
        username = unicodedata.normalize("NFC", username).strip()
        subjects = self._subjects(username, address)
        waits = [w for name, subject, limit in subjects if (w := self._throttle.peek(name, subject, limit))]
        if waits:
            audit_login_failure(session, username, address, channel, "throttled")
            raise LoginTooFast(max(waits))
        official = None
        if len(username) <= MAX_USERNAME and len(password) <= MAX_PASSWORD:
            official = session.scalars(select(Official).where(Official.username == username)).first()
        ok = verify_password(password[:MAX_PASSWORD], official.password_hash if official else None)
        if ok and official is not None and official.active:
            return official
        for name, subject, limit in subjects:
            self._throttle.hit(name, subject, limit)
        audit_login_failure(session, username, address, channel, "inactive" if ok else "bad_credentials")
        raise LookupError(username)
