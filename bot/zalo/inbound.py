"""Zalo OA webhook events → normalised inbound messages (ids stay strings; timestamps are milliseconds)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, cast

from bot.base import InboundResult
from bot.messages import Attachment, AttachmentKind, GeoPoint, InboundKind, InboundMessage

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
    try:
        return datetime.fromtimestamp(int(str(data.get("timestamp"))) / 1000, UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(UTC)


def _coordinates(message: dict[str, Any]) -> GeoPoint | None:
    """Three shapes seen in the wild: attachments[].payload.coordinates{latitude,longitude} (strings),
    coordinates{lat,long}, and message.location{latitude,longitude}."""
    shapes: list[dict[str, Any]] = []
    for att in message.get("attachments") or []:
        payload = att.get("payload") or {}
        shapes.append(payload.get("coordinates") or payload)
    shapes.append(message.get("location") or {})
    for c in shapes:
        lat = c.get("latitude", c.get("lat"))
        lon = c.get("longitude", c.get("long", c.get("lng")))
        try:
            if lat is not None and lon is not None:
                return GeoPoint(float(lat), float(lon))
        except (TypeError, ValueError):
            return None
    return None


def parse_event(data: dict[str, Any]) -> InboundResult:
    event = str(data.get("event_name", ""))
    if not event:
        return InboundResult(None, "ignored:malformed")
    if event in IGNORED:
        return InboundResult(None, f"ignored:{event}")
    when = _when(data)
    if event in ("follow", "unfollow"):
        user = str((data.get("follower") or {}).get("id") or (data.get("sender") or {}).get("id") or "")
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
    sender = str((data.get("sender") or {}).get("id") or "")
    message = data.get("message") or {}
    msg_id = str(message.get("msg_id") or "")
    if not sender or not msg_id or not isinstance(message, dict):
        return InboundResult(None, "ignored:malformed")
    base: dict[str, Any] = {
        "channel": "zalo",
        "platform_message_id": msg_id,
        "user_id": sender,
        "chat_id": sender,
        "event": event,
        "sent_at": when,
    }
    text = str(message.get("text") or "")
    if event == "user_send_text":
        return InboundResult(InboundMessage(kind="text", text=text, **base))
    if event == "user_send_location":
        point = _coordinates(message)
        if point is None:
            return InboundResult(None, "ignored:malformed")
        return InboundResult(InboundMessage(kind="location", location=point, text=text, **base))
    if event in MEDIA:
        kind, att_kind = MEDIA[event]
        atts = tuple(
            Attachment(
                att_kind,
                url=(a.get("payload") or {}).get("url"),
                name=(a.get("payload") or {}).get("name"),
                size=_int((a.get("payload") or {}).get("size")),
            )
            for a in message.get("attachments") or []
        )
        if event == "user_send_link":
            text = " ".join(x for x in [text, *(a.url or "" for a in atts)] if x)
        outcome = "unsupported" if kind == "unsupported" else "accepted"
        return InboundResult(InboundMessage(kind=kind, text=text, attachments=atts, **base), outcome)
    return InboundResult(InboundMessage(kind="unsupported", text=text, **base), "unsupported")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
