"""Normalised messages shared by every channel adapter.

A platform adapter turns its webhook payload into one :class:`InboundMessage` and sends an
:class:`OutboundMessage` however its platform allows (buttons degrade to numbered text where a
platform has none). Platform SDK types never leave their adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

Channel = Literal["webchat", "telegram", "zalo", "zalobot", "open311"]

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


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to a citizen."""

    channel: Channel
    chat_id: str
    text: str
    buttons: tuple[Button, ...] = ()
    reply_to: str | None = None  # platform id of the inbound message this answers, if any
