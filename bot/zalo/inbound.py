"""Zalo OA webhook events → normalised inbound messages (ids stay strings; timestamps are milliseconds)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, cast

from bot.base import InboundResult
from bot.messages import (
    Attachment,
    AttachmentKind,
    GeoPoint,
    InboundKind,
    InboundMessage,
    geo_point,
    platform_id,
    sent_time,
    text_field,
)

IGNORED = {
    "user_received_message",
    "user_seen_message",
    "oa_send_text",
    "oa_send_image",
    "oa_send_list",
    "oa_send_file",
    "oa_send_gif",
    "add_user_to_tag",
    "user_call_oa",
}
MEDIA: dict[str, tuple[InboundKind, AttachmentKind]] = {
    "user_send_image": ("image", "image"),
    "user_send_file": ("file", "file"),
    "user_send_gif": ("unsupported", "image"),
    "user_send_sticker": ("unsupported", "sticker"),
    "user_send_audio": ("file", "audio"),
    "user_send_video": ("file", "video"),
    "user_send_link": ("text", "other"),
}


def _when(data: dict[str, Any]) -> datetime:
    """Milliseconds, as a number or a string; anything unreadable or out of range is now."""
    return sent_time(data.get("timestamp"), milliseconds=True)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _coordinates(message: dict[str, Any]) -> GeoPoint | None:
    """Three shapes seen in the wild: attachments[].payload.coordinates{latitude,longitude} (strings),
    coordinates{lat,long}, and message.location{latitude,longitude}."""
    shapes: list[dict[str, Any]] = []
    for att in _list(message.get("attachments")):
        payload = _dict(_dict(att).get("payload"))
        shapes.append(_dict(payload.get("coordinates")) or payload)
    shapes.append(_dict(message.get("location")))
    for c in shapes:
        lat = c.get("latitude", c.get("lat"))
        lon = c.get("longitude", c.get("long", c.get("lng")))
        if lat is not None and lon is not None:
            return geo_point(lat, lon)
    return None


def parse_event(data: dict[str, Any]) -> InboundResult:
    event = text_field(data.get("event_name"))[:64]
    if not event:
        return InboundResult(None, "ignored:malformed")
    if event in IGNORED:
        return InboundResult(None, f"ignored:{event}")
    when = _when(data)
    if event in ("follow", "unfollow"):
        user = platform_id(_dict(data.get("follower")).get("id")) or platform_id(_dict(data.get("sender")).get("id"))
        if not user:
            return InboundResult(None, "ignored:malformed")
        digest = hashlib.sha256(f"{event}:{user}:{data.get('timestamp')}".encode()).hexdigest()[:24]
        msg = InboundMessage(
            channel="zalo",
            platform_message_id=f"{event}:{digest}",
            user_id=user,
            chat_id=user,
            kind=cast(InboundKind, event),
            event=event,
            sent_at=when,
        )
        return InboundResult(msg)
    if not event.startswith("user_send_"):
        return InboundResult(None, f"ignored:{event}")
    sender = platform_id(_dict(data.get("sender")).get("id"))
    message = data.get("message")
    if not isinstance(message, dict):
        return InboundResult(None, "ignored:malformed")
    msg_id = platform_id(message.get("msg_id"))
    if not sender or not msg_id:
        return InboundResult(None, "ignored:malformed")
    base: dict[str, Any] = {
        "channel": "zalo",
        "platform_message_id": msg_id,
        "user_id": sender,
        "chat_id": sender,
        "event": event,
        "sent_at": when,
    }
    text = text_field(message.get("text"))
    if event == "user_send_text":
        return InboundResult(InboundMessage(kind="text", text=text, **base))
    if event == "user_send_location":
        point = _coordinates(message)
        if point is None:
            return InboundResult(None, "ignored:malformed")
        return InboundResult(InboundMessage(kind="location", location=point, text=text, **base))
    if event in MEDIA:
        kind, att_kind = MEDIA[event]
        payloads = [_dict(_dict(a).get("payload")) for a in _list(message.get("attachments"))]
        atts = tuple(
            Attachment(
                att_kind,
                url=text_field(p.get("url"))[:2000] or None,
                name=text_field(p.get("name"))[:255] or None,
                size=_int(p.get("size")),
            )
            for p in payloads
        )
        if event == "user_send_link":
            text = " ".join(x for x in [text, *(a.url or "" for a in atts)] if x)
        outcome = "unsupported" if kind == "unsupported" else "accepted"
        return InboundResult(InboundMessage(kind=kind, text=text, attachments=atts, **base), outcome)
    return InboundResult(InboundMessage(kind="unsupported", text=text, **base), "unsupported")


def _int(value: Any) -> int | None:
    """A size as an integer (number or decimal string); ``None`` for anything else."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 16:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53:
        return value
    return None
