"""Zalo Bot webhook updates → normalised inbound messages.

An update is ``{"event_name": "message.text.received", "message": {...}}``, delivered either bare or wrapped as
``{"ok": true, "result": {...}}``; the message carries ``message_id``, ``from{id, display_name}``,
``chat{id, chat_type}``, ``date`` (milliseconds) and ``text`` / ``photo_url`` / ``caption`` / ``sticker``.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from bot.base import InboundResult
from bot.messages import Attachment, InboundMessage


def verify_secret(header: str | None, secret: str) -> bool:
    """Constant-time comparison of ``X-Bot-Api-Secret-Token``; an unset secret accepts nothing."""
    if not secret or header is None:
        return False
    return hmac.compare_digest(header.encode(), secret.encode())


def _when(message: dict[str, Any]) -> datetime:
    try:
        value = float(message.get("date"))  # type: ignore[arg-type]
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(UTC)


def parse_update(data: dict[str, Any]) -> InboundResult:
    update: dict[str, Any] = data["result"] if isinstance(data.get("result"), dict) else data
    event = str(update.get("event_name") or "")
    message = update.get("message")
    if not event or not isinstance(message, dict):
        return InboundResult(None, "ignored:malformed")
    sender = message.get("from") or {}
    chat = message.get("chat") or {}
    msg_id, user_id, chat_id = (str(x or "") for x in (message.get("message_id"), sender.get("id"), chat.get("id")))
    if not msg_id or not user_id or not chat_id:
        return InboundResult(None, "ignored:malformed")
    if sender.get("is_bot"):
        return InboundResult(None, "ignored:from_bot")
    if str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
        return InboundResult(None, "ignored:group_chat")
    base: dict[str, Any] = {
        "channel": "zalobot",
        "platform_message_id": msg_id,
        "user_id": user_id,
        "chat_id": chat_id,
        "event": event,
        "sent_at": _when(message),
        "display_name": sender.get("display_name") or sender.get("name"),
    }
    if event == "message.text.received":
        text = str(message.get("text") or "")
        if not text.strip():
            return InboundResult(None, "ignored:empty")
        return InboundResult(InboundMessage(kind="text", text=text, **base))
    if event == "message.image.received":
        url = message.get("photo_url") or message.get("photo")
        att = Attachment("image", url=str(url) if url else None)
        return InboundResult(
            InboundMessage(kind="image", text=str(message.get("caption") or ""), attachments=(att,), **base)
        )
    if event in ("message.sticker.received", "message.unsupported.received"):
        return InboundResult(InboundMessage(kind="unsupported", **base), "unsupported")
    return InboundResult(None, f"ignored:{event}")
