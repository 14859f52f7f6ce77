"""What the conversation flows share: the ports they work with, and how a citizen's short answers are read.

The conversation builds one :class:`FlowContext` and hands it to each flow; a flow never calls back into the
conversation. When a message is not for it (the citizen moved on), a flow returns ``None`` ("not handled") and the
conversation handles the message as a new one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.messages import InboundMessage
from handlers.ports import CitizenRef, Parser, TicketService
from handlers.texts import Texts
from nlu.vocab import find_ticket_codes, fold, fold_chars

# Short answers, folded (lower case, no diacritics, see ``nlu.vocab.fold``).
CANCEL = frozenset(
    {"huy", "thoi", "/cancel", "huy bo", "thoi khoi", "dung lai", "cancel", "huy di", "thoi khong gui nua"}
)
YES = frozenset(
    {
        "dong y",
        "co",
        "ok",
        "u",
        "uh",
        "um",
        "vang",
        "da",
        "dung",
        "dung roi",
        "gui",
        "gui di",
        "xac nhan",
        "yes",
        "dc",
        "duoc",
        "chuan",
        "oke",
        "co a",
        "vang a",
        "da dong y",
        "dong y a",
        "ok gui di",
    }
)
NO = frozenset(
    {"khong", "ko", "k", "khong dong y", "chua", "sai", "sai roi", "no", "khong a", "khong can", "thoi khoi"}
)


@dataclass(frozen=True, slots=True)
class FlowContext:
    """The ports and settings every flow needs."""

    parser: Parser
    tickets: TicketService
    texts: Texts
    tz: ZoneInfo

    def when(self, value: datetime) -> str:
        """A time as citizens read it, in Vietnam time: ``14:05 20/11/2026``."""
        return value.astimezone(self.tz).strftime("%H:%M %d/%m/%Y")


# What each channel lets a citizen send besides text: the bot asks only for what the channel can send. The web chat
# has no photo upload, but a "share my position" button (browser geolocation); Telegram and Zalo send both natively.
PHOTO, LOCATION_BUTTON = "photo", "location_button"
CAPABILITIES: dict[str, frozenset[str]] = {"webchat": frozenset({LOCATION_BUTTON})}
NATIVE_CAPABILITIES = frozenset({PHOTO})  # platform apps: photos and positions from the app's own menus


def capabilities(citizen: CitizenRef) -> frozenset[str]:
    return CAPABILITIES.get(citizen.channel, NATIVE_CAPABILITIES)


def sends_photos(citizen: CitizenRef) -> bool:
    return PHOTO in capabilities(citizen)


def shares_location(citizen: CitizenRef) -> bool:
    """The channel offers a button that sends the device's position (the web chat)."""
    return LOCATION_BUTTON in capabilities(citizen)


def yes_no(msg: InboundMessage) -> str | None:
    """``"yes"``, ``"no"`` or None for a typed short answer."""
    word = fold(msg.text).rstrip(" .!")
    return "yes" if word in YES else "no" if word in NO else None


def ticket_code(text: str) -> str | None:
    """The first ticket code written in a message, canonical (``PA-7K3Q-M2XD``)."""
    return next((code for _, _, code in find_ticket_codes(text)), None)


_ADD_WORDS = re.compile(r"^(?:bo sung|them)(?: them)?(?: thong tin| noi dung)?(?: cho| vao)?(?: phan anh| ma)?\b")


def info_after_code(text: str) -> str:
    """The information written after a ticket code ("Bổ sung cho PA-7K3Q-M2XD: ổ gà trước số 12" → "ổ gà trước
    số 12"), with a leading "bổ sung ..." and punctuation taken off; "" when only the code was written."""
    found = next(iter(find_ticket_codes(text)), None)
    if found is None:
        return ""
    rest = text[found[1] :].lstrip(" :;,.-–—\n\t")
    words = _ADD_WORDS.match(fold_chars(rest).lower())  # one character per character: the offsets hold
    if words:
        rest = rest[words.end() :].lstrip(" :;,.-–—\n\t")
    return rest.strip()


def province_of(commune_code: str) -> str | None:
    from nlu.gazetteer import load_gazetteer

    unit = load_gazetteer().get(commune_code)
    return unit.parent_code if unit else None
