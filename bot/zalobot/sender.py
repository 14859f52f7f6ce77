"""Sending through the Zalo Bot API (``{base_url}{token}/sendMessage``) with an injected httpx client."""

from __future__ import annotations

from typing import Any

import httpx

from bot.base import ChannelSender, SendError, SendReceipt
from bot.messages import OutboundMessage
from bot.render import numbered_menu, split_text

TEXT_LIMIT = 2000


class ZaloBotSender(ChannelSender):
    channel = "zalobot"
    text_limit = TEXT_LIMIT
    supports_buttons = False

    def __init__(
        self, token: str, base_url: str = "https://bot-api.zaloplatforms.com/bot", http: httpx.AsyncClient | None = None
    ) -> None:
        self._url = f"{base_url}{token}"
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        try:
            r = await self.http.post(f"{self._url}/{method}", json=params)
        except httpx.HTTPError as exc:
            raise SendError(f"Zalo Bot API unreachable: {exc}", reason="network", retryable=True) from exc
        try:
            body: dict[str, Any] = r.json()
        except ValueError:
            body = {}
        if r.status_code == 429 or body.get("error_code") == 429:
            raise SendError(
                "Zalo Bot API 429",
                reason="rate_limited",
                retryable=True,
                retry_after=float(r.headers.get("retry-after", 2)),
            )
        if r.status_code >= 500:
            raise SendError(f"Zalo Bot API HTTP {r.status_code}", reason="server_error", retryable=True)
        if not body.get("ok"):
            code, why = body.get("error_code", r.status_code), body.get("description", "")
            if code in (401, 403) or r.status_code in (401, 403):
                raise SendError(
                    f"Zalo Bot API {code}: {why}", reason="blocked" if code == 403 else "auth_failed", retryable=False
                )
            raise SendError(f"Zalo Bot API {code}: {why}", reason="bad_request", retryable=False)
        return body.get("result")

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        text = numbered_menu(msg.text, msg.buttons, self.menu_hint) if msg.buttons else msg.text
        ids = []
        for chunk in split_text(text, TEXT_LIMIT):
            result = await self.call("sendMessage", {"chat_id": msg.chat_id, "text": chunk})
            ids.append(str((result or {}).get("message_id", "")))
        return SendReceipt(ids)

    async def set_webhook(self, url: str, secret: str) -> Any:
        return await self.call("setWebhook", {"url": url, "secret_token": secret})
