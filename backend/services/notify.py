"""Turns ticket changes into Vietnamese messages in the citizen's own chat, through the outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from backend.db.models import Citizen, Official, OutboxItem, Ticket, utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.messages import Button


CHAT_CHANNELS = frozenset({"webchat", "telegram", "zalo", "zalobot"})
AUTHOR_MAX = 64  # length of ``OutboxItem.author`` / ``Message.author``


class TextRenderer(Protocol):
    def render(self, key: str, /, **kw: object) -> str: ...

    def status_name(self, code: str) -> str: ...


def enqueue(
    session: Session,
    citizen: Citizen,
    text: str,
    *,
    ticket_id: int | None = None,
    buttons: Sequence[Button] = (),
    author: str | None = None,
    reply_to: str | None = None,
) -> OutboxItem | None:
    """Queue one message for delivery; it is sent by the outbox worker after the transaction commits.

    Citizens who came through the Open311 API have no chat: their updates are read through that API instead.
    """
    if citizen.channel not in CHAT_CHANNELS:
        return None
    item = OutboxItem(
        channel=citizen.channel,
        chat_id=citizen.chat_id,
        citizen_id=citizen.id,
        ticket_id=ticket_id,
        text=text,
        buttons=[{"title": b.title, "payload": b.payload} for b in buttons],
        author=author,
        reply_to=reply_to,
        next_attempt_at=utcnow(),
    )
    session.add(item)
    return item


class Notifier:
    def __init__(self, texts: TextRenderer) -> None:
        self.texts = texts

    def _citizen(self, session: Session, ticket: Ticket) -> Citizen:
        citizen = session.get(Citizen, ticket.citizen_id)
        assert citizen is not None
        return citizen

    def official_reply(self, session: Session, ticket: Ticket, text: str, official: Official) -> None:
        """The citizen hears from the unit, never the person: the official's login name stays in the ticket's
        events (the console), not in anything the citizen receives."""
        body = self.texts.render("notify_reply", unit=ticket.unit.name, code=ticket.code, text=text)
        author = ticket.unit.name[:AUTHOR_MAX]
        enqueue(session, self._citizen(session, ticket), body, ticket_id=ticket.id, author=author)

    def status_changed(self, session: Session, ticket: Ticket, old: str, new: str, note: str | None) -> None:
        body = self.texts.render(
            f"notify_status_{new}",
            code=ticket.code,
            unit=ticket.unit.name,
            note=note or "",
            status=self.texts.status_name(new),
        )
        enqueue(session, self._citizen(session, ticket), body, ticket_id=ticket.id)

    def reassigned(self, session: Session, ticket: Ticket, reason: str) -> None:
        body = self.texts.render("notify_reassigned", code=ticket.code, unit=ticket.unit.name, reason=reason)
        enqueue(session, self._citizen(session, ticket), body, ticket_id=ticket.id)

    def escalated(self, session: Session, ticket: Ticket, above: str | None) -> None:
        from backend.db.models import OrgUnit

        unit = session.get(OrgUnit, above) if above else None
        body = self.texts.render(
            "notify_escalated", code=ticket.code, unit=ticket.unit.name, above=unit.name if unit else ticket.unit.name
        )
        enqueue(session, self._citizen(session, ticket), body, ticket_id=ticket.id)
