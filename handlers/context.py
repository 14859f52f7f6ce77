"""What the conversation flows share: the ports they work with, and how a citizen's short answers are read.

The conversation builds one :class:`FlowContext` and hands it to each flow; a flow never calls back into the
conversation. When a message is not for it (the citizen moved on), a flow returns ``None`` ("not handled") and the
conversation handles the message as a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.messages import InboundMessage
from handlers.ports import Parser, TicketService
from handlers.texts import Texts
from nlu.vocab import find_ticket_codes, fold

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


def yes_no(msg: InboundMessage) -> str | None:
    """``"yes"``, ``"no"`` or None for a typed short answer."""
    word = fold(msg.text).rstrip(" .!")
    return "yes" if word in YES else "no" if word in NO else None


def ticket_code(text: str) -> str | None:
    """The first ticket code written in a message, canonical (``PA-7K3Q-M2XD``)."""
    return next((code for _, _, code in find_ticket_codes(text)), None)


def province_of(commune_code: str) -> str | None:
    from nlu.gazetteer import load_gazetteer

    unit = load_gazetteer().get(commune_code)
    return unit.parent_code if unit else None
