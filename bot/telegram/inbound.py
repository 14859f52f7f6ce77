"""Telegram updates (Bot API JSON) → normalised inbound messages. PTB types stay in this package."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from telegram import Message, Update

from bot.base import InboundResult
from bot.messages import Attachment, GeoPoint, InboundMessage


def verify_secret(header_value: str | None, secret: str) -> bool:
    """Constant-time check of ``X-Telegram-Bot-Api-Secret-Token``."""
    if not secret or header_value is None:
        return False
    return hmac.compare_digest(header_value.encode(), secret.encode())


def _ignored(why: str) -> InboundResult:
    return InboundResult(None, f"ignored:{why}")


def _base(msg: Message) -> dict[str, Any]:
    user = msg.from_user
    return {
        "channel": "telegram",
        "platform_message_id": f"{msg.chat.id}:{msg.message_id}",
        "user_id": str(user.id if user else msg.chat.id),
        "chat_id": str(msg.chat.id),
        "display_name": user.full_name if user else None,
        "sent_at": msg.date.astimezone(UTC) if msg.date else datetime.now(UTC),
    }


def _message(msg: Message) -> InboundResult:
    if msg.chat.type != "private":
        return _ignored(f"{msg.chat.type}_chat")
    base = _base(msg)
    if msg.text is not None:
        return InboundResult(InboundMessage(kind="text", text=msg.text, event="message.text", **base))
    if msg.photo:
        largest = msg.photo[-1]
        att = Attachment("image", platform_file_id=largest.file_id, size=largest.file_size)
        return InboundResult(
            InboundMessage(kind="image", text=msg.caption or "", attachments=(att,), event="message.photo", **base)
        )
    if msg.location is not None:
        point = GeoPoint(float(msg.location.latitude), float(msg.location.longitude))
        return InboundResult(InboundMessage(kind="location", location=point, event="message.location", **base))
    if msg.contact is not None:
        return InboundResult(
            InboundMessage(
                kind="contact",
                contact_phone=msg.contact.phone_number,
                text=msg.contact.phone_number,
                event="message.contact",
                **base,
            )
        )
    if msg.document is not None:
        doc = msg.document
        att = Attachment("file", platform_file_id=doc.file_id, name=doc.file_name, size=doc.file_size)
        return InboundResult(
            InboundMessage(kind="file", text=msg.caption or "", attachments=(att,), event="message.document", **base)
        )
    return InboundResult(InboundMessage(kind="unsupported", event="message.other", **base), "unsupported")


def parse_update(data: dict[str, Any]) -> InboundResult:
    """Every update kind gets a defined outcome; nothing here raises on odd input."""
    try:
        update = Update.de_json(data, None)
    except (KeyError, TypeError, ValueError, AttributeError):
        return _ignored("malformed")
    if update is None or not isinstance(data.get("update_id"), int):
        return _ignored("malformed")
    if update.callback_query is not None:
        query = update.callback_query
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        msg = InboundMessage(
            channel="telegram",
            platform_message_id=f"cbq:{query.id}",
            user_id=str(query.from_user.id),
            chat_id=str(chat_id),
            kind="button",
            payload=query.data or "",
            display_name=query.from_user.full_name,
            event="callback_query",
        )
        return InboundResult(msg, "accepted", callback_query_id=query.id)
    if update.message is not None:
        return _message(update.message)
    if update.edited_message is not None:
        return _ignored("edited_message")
    if update.channel_post is not None or update.edited_channel_post is not None:
        return _ignored("channel_post")
    if update.my_chat_member is not None:
        status = update.my_chat_member.new_chat_member.status
        if status in ("kicked", "left") and update.my_chat_member.chat.type == "private":
            user = update.my_chat_member.from_user
            msg = InboundMessage(
                channel="telegram",
                platform_message_id=f"member:{data['update_id']}",
                user_id=str(user.id),
                chat_id=str(update.my_chat_member.chat.id),
                kind="unfollow",
                event="my_chat_member",
            )
            return InboundResult(msg)
        return _ignored("my_chat_member")
    return _ignored("unsupported_update")
