"""Telegram updates (Bot API JSON) → normalised inbound messages. PTB types stay in this package."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from telegram import Message, Update

from bot.base import InboundResult
from bot.messages import Attachment, InboundMessage, geo_point, sent_time, text_field

MALFORMED = (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError)


def verify_secret(header_value: str | None, secret: str) -> bool:
    """Constant-time check of ``X-Telegram-Bot-Api-Secret-Token``."""
    if not secret or header_value is None:
        return False
    return hmac.compare_digest(header_value.encode(), secret.encode())


def _ignored(why: str) -> InboundResult:
    return InboundResult(None, f"ignored:{why}")


def _base(msg: Message) -> dict[str, Any] | None:
    user = msg.from_user
    chat_id, message_id = platform_id(msg.chat.id), platform_id(msg.message_id)
    user_id = platform_id(user.id) if user else chat_id
    if not chat_id or not message_id or not user_id:
        return None
    name = user.full_name if user and isinstance(user.first_name, str) else None
    return {
        "channel": "telegram",
        "platform_message_id": f"{chat_id}:{message_id}",
        "user_id": user_id,
        "chat_id": chat_id,
        "display_name": name[:128] if name else None,
        "sent_at": sent_time(msg.date.timestamp(), milliseconds=False) if msg.date else datetime.now(UTC),
    }


def _message(msg: Message) -> InboundResult:
    if msg.chat.type != "private":
        return _ignored("group_chat" if not isinstance(msg.chat.type, str) else f"{msg.chat.type}_chat"[:40])
    base = _base(msg)
    if base is None:
        return _ignored("malformed")
    if msg.text is not None:
        if not isinstance(msg.text, str):
            return _ignored("malformed")
        answered = msg.reply_to_message
        reply_to = platform_id(answered.message_id) if answered is not None else ""
        return InboundResult(
            InboundMessage(kind="text", text=msg.text, event="message.text", reply_to=reply_to or None, **base)
        )
    if msg.photo:
        largest = msg.photo[-1]
        if not isinstance(largest.file_id, str):
            return _ignored("malformed")
        att = Attachment("image", platform_file_id=largest.file_id, size=_size(largest.file_size))
        caption = text_field(msg.caption)
        return InboundResult(
            InboundMessage(kind="image", text=caption, attachments=(att,), event="message.photo", **base)
        )
    if msg.location is not None:
        point = geo_point(msg.location.latitude, msg.location.longitude)
        if point is None:
            return _ignored("malformed")
        return InboundResult(InboundMessage(kind="location", location=point, event="message.location", **base))
    if msg.contact is not None:
        phone = text_field(msg.contact.phone_number)[:32]
        if not phone:
            return _ignored("malformed")
        return InboundResult(
            InboundMessage(
                kind="contact",
                contact_phone=phone,
                text=phone,
                event="message.contact",
                **base,
            )
        )
    if msg.document is not None:
        doc = msg.document
        if not isinstance(doc.file_id, str):
            return _ignored("malformed")
        name = text_field(doc.file_name)[:255] or None
        att = Attachment("file", platform_file_id=doc.file_id, name=name, size=_size(doc.file_size))
        caption = text_field(msg.caption)
        return InboundResult(
            InboundMessage(kind="file", text=caption, attachments=(att,), event="message.document", **base)
        )
    return InboundResult(InboundMessage(kind="unsupported", event="message.other", **base), "unsupported")


def platform_id(value: Any) -> str:
    """Telegram ids (users, chats, messages) are integers: as text, or ``""`` for anything else."""
    ok = isinstance(value, int) and not isinstance(value, bool) and -(2**63) < value < 2**63
    return str(value) if ok else ""


def _size(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53 else None


_PLAIN_MESSAGE = frozenset({"message_id", "date", "chat", "from", "text"})
_PLAIN_USER = frozenset({"id", "is_bot", "first_name", "last_name", "username", "language_code"})
_PLAIN_CHAT = frozenset({"id", "type", "first_name", "last_name", "username"})
_NAMES = ("first_name", "last_name", "username")


def _plain_text(data: dict[str, Any]) -> InboundResult | None:
    """The most common update by far (a citizen's plain text in a private chat), read straight from the JSON: the
    same result as through python-telegram-bot's objects, which cost ~10x more. ``None`` for anything else (it then
    goes the full way)."""
    msg = data.get("message")
    if len(data) != 2 or not isinstance(msg, dict) or not msg.keys() <= _PLAIN_MESSAGE:
        return None
    chat, user, text, date = msg.get("chat"), msg.get("from"), msg.get("text"), msg.get("date")
    if not isinstance(chat, dict) or chat.get("type") != "private" or not isinstance(text, str):
        return None
    if not isinstance(user, dict) or not user.keys() <= _PLAIN_USER or not isinstance(user.get("is_bot"), bool):
        return None
    if not chat.keys() <= _PLAIN_CHAT or not all(isinstance(chat.get(k), str | None) for k in _NAMES):
        return None
    if not all(isinstance(user.get(k), str | None) for k in (*_NAMES, "language_code")):
        return None
    first, last = user.get("first_name"), user.get("last_name")
    if not isinstance(first, str) or not first:  # an empty first name: the library's own rules decide
        return None
    if not isinstance(date, int) or isinstance(date, bool) or not 946684800 <= date < 2**32:
        return None
    chat_id, message_id, user_id = (
        platform_id(chat.get("id")),
        platform_id(msg.get("message_id")),
        platform_id(user.get("id")),
    )
    if not chat_id or not message_id or not user_id:
        return None
    name = f"{first} {last}" if last else first
    return InboundResult(
        InboundMessage(
            channel="telegram",
            platform_message_id=f"{chat_id}:{message_id}",
            user_id=user_id,
            chat_id=chat_id,
            display_name=name[:128] if name else None,
            sent_at=sent_time(float(date), milliseconds=False),
            kind="text",
            text=text,
            event="message.text",
        )
    )


def parse_update(data: dict[str, Any]) -> InboundResult:
    """Every update kind gets a defined outcome; nothing here raises on odd input (wrong types, numbers out of
    range: ``ignored:malformed``)."""
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or not 0 <= update_id < 2**63:
        return _ignored("malformed")
    plain = _plain_text(data)
    if plain is not None:
        return plain
    return parse_with_objects(data)


def parse_with_objects(data: dict[str, Any]) -> InboundResult:
    """Any update, through python-telegram-bot's objects."""
    try:
        update = Update.de_json(data, None)
        if update is None:
            return _ignored("malformed")
        return _update(update, data)
    except MALFORMED:
        return _ignored("malformed")


def _update(update: Update, data: dict[str, Any]) -> InboundResult:
    if update.callback_query is not None:
        query = update.callback_query
        user_id = platform_id(query.from_user.id)
        chat_id = platform_id(query.message.chat.id) if query.message is not None else user_id
        query_id = query.id if isinstance(query.id, str) and 0 < len(query.id) <= 128 else ""
        if not user_id or not chat_id or not query_id:
            return _ignored("malformed")
        msg = InboundMessage(
            channel="telegram",
            platform_message_id=f"cbq:{query_id}",
            user_id=user_id,
            chat_id=chat_id,
            kind="button",
            payload=text_field(query.data)[:200],
            display_name=query.from_user.full_name if isinstance(query.from_user.first_name, str) else None,
            event="callback_query",
        )
        return InboundResult(msg, "accepted", callback_query_id=query_id)
    if update.message is not None:
        if not isinstance(update.message, Message):
            return _ignored("malformed")
        return _message(update.message)
    if update.edited_message is not None:
        return _ignored("edited_message")
    if update.channel_post is not None or update.edited_channel_post is not None:
        return _ignored("channel_post")
    if update.my_chat_member is not None:
        status = update.my_chat_member.new_chat_member.status
        if status in ("kicked", "left") and update.my_chat_member.chat.type == "private":
            user = update.my_chat_member.from_user
            user_id, chat_id = platform_id(user.id), platform_id(update.my_chat_member.chat.id)
            if not user_id or not chat_id:
                return _ignored("malformed")
            msg = InboundMessage(
                channel="telegram",
                platform_message_id=f"member:{data['update_id']}",
                user_id=user_id,
                chat_id=chat_id,
                kind="unfollow",
                event="my_chat_member",
            )
            return InboundResult(msg)
        return _ignored("my_chat_member")
    return _ignored("unsupported_update")
