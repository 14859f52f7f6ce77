"""Zalo Bot webhook updates → normalised inbound messages.

An update is ``{"event_name": "message.text.received", "message": {...}}``, delivered either bare or wrapped as
``{"ok": true, "result": {...}}``; the message carries ``message_id``, ``from{id, display_name}``,
``chat{id, chat_type}``, ``date`` (milliseconds) and ``text`` / ``photo_url`` / ``caption`` / ``sticker``.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from bot.base import InboundResult
from bot.messages import Attachment, InboundMessage, platform_id, sent_time, text_field


def verify_secret(header: str | None, secret: str) -> bool:
    """Constant-time comparison of ``X-Bot-Api-Secret-Token``; an unset secret accepts nothing."""
    if not secret or header is None:
        return False
    return hmac.compare_digest(header.encode(), secret.encode())


def _when(message: dict[str, Any]) -> datetime:
    """Milliseconds (or seconds when small enough); anything unreadable or out of range is now."""
    return sent_time(message.get("date"))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_update(data: dict[str, Any]) -> InboundResult:
    update: dict[str, Any] = data["result"] if isinstance(data.get("result"), dict) else data
    event = text_field(update.get("event_name"))[:64]
    message = update.get("message")
    if not event or not isinstance(message, dict):
        return InboundResult(None, "ignored:malformed")
    sender, chat = _dict(message.get("from")), _dict(message.get("chat"))
    msg_id, user_id, chat_id = (platform_id(x) for x in (message.get("message_id"), sender.get("id"), chat.get("id")))
    if not msg_id or not user_id or not chat_id:
        return InboundResult(None, "ignored:malformed")
    if sender.get("is_bot"):
        return InboundResult(None, "ignored:from_bot")
    if text_field(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
        return InboundResult(None, "ignored:group_chat")
    base: dict[str, Any] = {
        "channel": "zalobot",
        "platform_message_id": msg_id,
        "user_id": user_id,
        "chat_id": chat_id,
        "event": event,
        "sent_at": _when(message),
        "display_name": (text_field(sender.get("display_name")) or text_field(sender.get("name")))[:128] or None,
    }
    if event == "message.text.received":
        text = text_field(message.get("text"))
        if not text.strip():
            return InboundResult(None, "ignored:empty")
        return InboundResult(InboundMessage(kind="text", text=text, **base))
    if event == "message.image.received":
        url = text_field(message.get("photo_url")) or text_field(message.get("photo"))
        att = Attachment("image", url=url[:2000] or None)
        return InboundResult(
            InboundMessage(kind="image", text=text_field(message.get("caption")), attachments=(att,), **base)
        )
    if event in ("message.sticker.received", "message.unsupported.received"):
        return InboundResult(InboundMessage(kind="unsupported", **base), "unsupported")
    return InboundResult(None, f"ignored:{event}")
