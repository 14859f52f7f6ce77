"""Normalised messages shared by every channel adapter.

A platform adapter turns its webhook payload into one :class:`InboundMessage` and sends an
:class:`OutboundMessage` however its platform allows (buttons degrade to numbered text where a
platform has none). Platform SDK types never leave their adapter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

# A channel's name: "webchat", "open311" or a platform of the channel registry (bot/registry.py), so that a new
# channel needs no change here.
Channel = str

InboundKind = Literal[
    "text",  # free text (also text typed as a reply to numbered choices)
    "button",  # a button press; ``payload`` carries the button's payload
    "image",
    "file",
    "location",
    "contact",
    "follow",
    "unfollow",
    "unsupported",  # stickers, edited messages, ... : stored, answered politely, never classified
]

AttachmentKind = Literal["image", "file", "audio", "video", "sticker", "other"]


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the citizen. ``payload`` comes back in an inbound ``button`` message."""

    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class GeoPoint:
    latitude: float
    longitude: float


def geo_point(latitude: Any, longitude: Any) -> GeoPoint | None:
    """A point from platform fields of any type: ``None`` unless both are finite numbers on the globe."""
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError, OverflowError):
        return None
    if isinstance(latitude, bool) or isinstance(longitude, bool) or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return GeoPoint(lat, lon)


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def sent_time(value: Any, *, milliseconds: bool | None = None) -> datetime:
    """A platform timestamp (seconds, or milliseconds when ``milliseconds`` or when it is too large for seconds)
    of any type; anything unreadable or out of range (before 2000, more than a day ahead) is now."""
    now = datetime.now(UTC)
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return now
        number = float(value)
        if milliseconds or (milliseconds is None and number > 1e11):
            number /= 1000
        when = datetime.fromtimestamp(number, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    return when if EARLIEST <= when <= now + timedelta(days=1) else now


def platform_id(value: Any) -> str:
    """A platform id (string or integer in the payload) as text; ``""`` for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and len(value) <= 128 else ""


def text_field(value: Any) -> str:
    """A text field: strings only, anything else is empty."""
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: AttachmentKind
    url: str | None = None
    platform_file_id: str | None = None
    name: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a citizen, whatever the platform."""

    channel: Channel
    platform_message_id: str  # unique per channel; the idempotency key
    user_id: str  # the platform's id for the citizen (Telegram user id, Zalo sender.id, web session)
    chat_id: str  # where replies go (Telegram chat id, Zalo user id, web session)
    kind: InboundKind = "text"
    text: str = ""
    payload: str | None = None
    location: GeoPoint | None = None
    attachments: tuple[Attachment, ...] = ()
    contact_phone: str | None = None
    display_name: str | None = None
    event: str = ""  # the platform's own event name, kept for the record
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    reply_to: str | None = None  # platform id (in this chat) of the message this one answers (Telegram reply-to)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to a citizen."""

    channel: Channel
    chat_id: str
    text: str
    buttons: tuple[Button, ...] = ()
    reply_to: str | None = None  # platform id of the inbound message this answers, if any
