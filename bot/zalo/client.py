"""Zalo OA customer-service messages over httpx, with proactive token refresh under a lock."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from redis.exceptions import RedisError

from bot.base import ChannelSender, SendError, SendReceipt
from bot.messages import OutboundMessage
from bot.render import numbered_menu, split_text
from bot.zalo.tokens import RefreshLock, TokenStore, ZaloTokens

log = logging.getLogger(__name__)
TEXT_LIMIT = 2000
TOKEN_INVALID = {-216, -124}
NOT_INTERACTED = {230, -230}
RATE_LIMITED = {-32}


class ZaloOAClient(ChannelSender):
    channel = "zalo"
    text_limit = TEXT_LIMIT
    supports_buttons = False  # buttons degrade to a numbered menu; the answer comes back as text

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str = "https://openapi.zalo.me",
        oauth_url: str = "https://oauth.zaloapp.com",
        app_id: str,
        app_secret: str,
        tokens: TokenStore,
        lock: RefreshLock,
    ) -> None:
        self.http, self.api_url, self.oauth_url = http, api_url.rstrip("/"), oauth_url.rstrip("/")
        self.app_id, self.app_secret, self.tokens, self.lock = app_id, app_secret, tokens, lock

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- tokens -------------------------------------------------------------------------------------------
    async def access_token(self) -> str:
        tokens = await self.tokens.load()
        if tokens is not None and tokens.fresh():
            return tokens.access_token
        return (await self.refresh(stale=tokens.access_token if tokens else None)).access_token

    async def refresh(self, stale: str | None) -> ZaloTokens:
        """Refresh once for everyone: after taking the lock, use what another process stored if it is newer.

        The lock lives in Redis: Redis being unreachable (or the lock held too long) is a retryable send error."""
        try:
            return await self._refresh(stale)
        except (RedisError, OSError, TimeoutError) as exc:
            raise SendError(f"token refresh lock unavailable: {exc}", reason="network", retryable=True) from exc

    async def _refresh(self, stale: str | None) -> ZaloTokens:
        async with self.lock.hold():
            current = await self.tokens.load()
            if current is None:
                raise SendError("no Zalo OA tokens configured", reason="auth_failed", retryable=False)
            if current.access_token != stale and current.fresh():
                return current
            try:
                r = await self.http.post(
                    f"{self.oauth_url}/v4/oa/access_token",
                    data={"refresh_token": current.refresh_token, "app_id": self.app_id, "grant_type": "refresh_token"},
                    headers={"secret_key": self.app_secret},
                )
                body = r.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise SendError(f"token refresh failed: {exc}", reason="network", retryable=True) from exc
            if r.status_code != 200 or "access_token" not in body:
                raise SendError(
                    f"token refresh refused: {body}", reason="token_expired", retryable=True, retry_after=60
                )
            fresh = ZaloTokens(
                str(body["access_token"]),
                str(body.get("refresh_token") or current.refresh_token),
                time.time() + float(body.get("expires_in", 90000)),
            )
            await self.tokens.save(fresh)
            log.info("Zalo OA access token refreshed")
            return fresh

    # -- sending ------------------------------------------------------------------------------------------
    async def send(self, msg: OutboundMessage) -> SendReceipt:
        text = numbered_menu(msg.text, msg.buttons, self.menu_hint) if msg.buttons else msg.text
        ids = []
        for chunk in split_text(text, TEXT_LIMIT):
            body = {"recipient": {"user_id": msg.chat_id}, "message": {"text": chunk}}
            data = await self._cs(body)
            ids.append(str((data.get("data") or {}).get("message_id", "")))
        return SendReceipt(ids)

    async def _cs(self, body: dict[str, Any]) -> dict[str, Any]:
        token = await self.access_token()
        for attempt in (1, 2):
            data = await self._post(token, body)
            error = int(data.get("error", 0) or 0)
            if error == 0:
                return data
            if error in TOKEN_INVALID and attempt == 1:
                token = (await self.refresh(stale=token)).access_token
                continue
            message = str(data.get("message", ""))
            if error in NOT_INTERACTED:
                raise SendError(f"Zalo {error}: {message}", reason="not_interacted", retryable=False)
            if error in RATE_LIMITED:
                raise SendError(f"Zalo {error}: {message}", reason="rate_limited", retryable=True)
            if error in TOKEN_INVALID:
                raise SendError(f"Zalo {error}: {message}", reason="token_expired", retryable=True)
            raise SendError(f"Zalo {error}: {message}", reason="bad_request", retryable=False)
        raise AssertionError("unreachable")

    async def _post(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            r = await self.http.post(f"{self.api_url}/v3.0/oa/message/cs", json=body, headers={"access_token": token})
        except httpx.HTTPError as exc:
            raise SendError(f"Zalo unreachable: {exc}", reason="network", retryable=True) from exc
        if r.status_code == 429:
            raise SendError(
                "Zalo HTTP 429",
                reason="rate_limited",
                retryable=True,
                retry_after=float(r.headers.get("retry-after", 5)),
            )
        if r.status_code >= 500:
            raise SendError(f"Zalo HTTP {r.status_code}", reason="server_error", retryable=True)
        try:
            data: dict[str, Any] = r.json()
        except ValueError as exc:
            raise SendError(
                f"Zalo answered HTTP {r.status_code} without JSON", reason="server_error", retryable=True
            ) from exc
        return data
