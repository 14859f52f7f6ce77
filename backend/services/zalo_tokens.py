"""Zalo OA tokens persisted in the database, so every process uses (and rotates) the same pair.

The operator puts the first pair in the settings (``GOPY_ZALO_ACCESS_TOKEN`` / ``GOPY_ZALO_REFRESH_TOKEN``); it is
copied into the credential row on first use. After that the row is the truth: each refresh rotates the single-use
refresh token and stores the new pair. If the operator re-authorises and puts a *different* refresh token in the
settings, that new pair replaces the stored one (we remember a digest of the configured token we seeded from).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from backend.services.credentials import CredentialStore, SessionScope
from bot.zalo import TokenStore, ZaloTokens

CREDENTIAL_NAME = "zalo_oa"
SEEDED_LIFETIME = 3600.0  # the configured access token's age is unknown: trust it for an hour, refresh on -216


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class DbZaloTokenStore(TokenStore):
    def __init__(
        self, scope: SessionScope, access_token: str = "", refresh_token: str = "", name: str = CREDENTIAL_NAME
    ) -> None:
        self._store = CredentialStore(scope, name)
        self._configured = (access_token, refresh_token)

    def _load_sync(self) -> ZaloTokens | None:
        row = self._store.load()
        access, refresh = self._configured
        seeded_from = _digest(refresh) if refresh else None
        if row is not None and (seeded_from is None or row.get("seeded_from") == seeded_from):
            return ZaloTokens(str(row["access_token"]), str(row["refresh_token"]), float(row["expires_at"]))
        if not refresh:
            return None
        seed = self._record(ZaloTokens(access, refresh, time.time() + SEEDED_LIFETIME if access else 0.0))
        # Only one process may seed (or re-seed after the operator configured a new pair); any other re-reads, so a
        # pair another process has already rotated is never overwritten by the configured one.
        done = (
            self._store.add(seed)
            if row is None
            else self._store.replace_if("seeded_from", row.get("seeded_from"), seed)
        )
        if not done:
            return self._load_sync()
        return ZaloTokens(seed["access_token"], seed["refresh_token"], seed["expires_at"])

    def _record(self, tokens: ZaloTokens) -> dict[str, Any]:
        refresh = self._configured[1]
        return {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
            "seeded_from": _digest(refresh) if refresh else None,
        }

    def _save_sync(self, tokens: ZaloTokens) -> None:
        self._store.save(self._record(tokens))

    async def load(self) -> ZaloTokens | None:
        return await asyncio.to_thread(self._load_sync)

    async def save(self, tokens: ZaloTokens) -> None:
        await asyncio.to_thread(self._save_sync, tokens)
