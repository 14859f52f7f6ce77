"""Turns ticket changes into Vietnamese messages in the citizen's own chat, through the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from backend.db.models import Citizen, Official, OutboxItem, Ticket, utcnow
from backend.domain import statuses as st
from handlers.ports import CitizenRef, Reply

if TYPE_CHECKING:
    from bot.messages import Button

log = logging.getLogger(__name__)


NO_CHAT_CHANNELS = frozenset({"open311"})  # citizens who came through the Open311 API have no chat to write to


def has_chat(channel: str) -> bool:
    """Whether replies can be pushed to this channel: the web chat and every channel of the registry
    (bot/registry.py), so a new channel needs no change here."""
    return channel not in NO_CHAT_CHANNELS


AUTHOR_MAX = 64  # length of ``OutboxItem.author`` / ``Message.author``
RATED_STATUSES = frozenset({st.DA_TRA_LOI, st.DA_DONG})  # the citizen is asked to rate the handling

# Puts the citizen's conversation into "rate ticket CODE" and returns the question to send (nothing when the citizen
# is in the middle of writing a report: they can still rate later by writing "đánh giá").
AskRating = Callable[[CitizenRef, str], Sequence[Reply]]


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
    if not has_chat(citizen.channel):
        return None
    return queue_message(
        session,
        citizen.channel,
        citizen.chat_id,
        text,
        citizen_id=citizen.id,
        ticket_id=ticket_id,
        buttons=buttons,
        author=author,
        reply_to=reply_to,
    )


def queue_message(
    session: Session,
    channel: str,
    chat_id: str,
    text: str,
    *,
    citizen_id: int | None = None,
    ticket_id: int | None = None,
    buttons: Sequence[Button] = (),
    author: str | None = None,
    reply_to: str | None = None,
) -> OutboxItem:
    """Queue one message to any chat (a citizen's, or an official's linked Telegram: ``citizen_id`` None)."""
    item = OutboxItem(
        channel=channel,
        chat_id=chat_id,
        citizen_id=citizen_id,
        ticket_id=ticket_id,
        text=text,
        buttons=[{"title": b.title, "payload": b.payload} for b in buttons],
        author=author,
        reply_to=reply_to,
        next_attempt_at=utcnow(),
    )
    session.add(item)
    return item


class StaffAlerts(Protocol):
    """Tells the officials in charge about a ticket in their linked chats (backend/services/official_telegram.py)."""

    def ticket_filed(self, session: Session, ticket: Ticket) -> None: ...

    def ticket_overdue(self, session: Session, ticket: Ticket) -> None: ...


class Notifier:
    def __init__(
        self, texts: TextRenderer, ask_rating: AskRating | None = None, staff: StaffAlerts | None = None
    ) -> None:
        self.texts = texts
        self.ask_rating = ask_rating
        self.staff = staff  # officials' Telegram notifications, in the same transaction as the change

    def filed(self, session: Session, ticket: Ticket) -> None:
        """A new ticket: the officials in charge who linked a Telegram chat are told (the citizen already was)."""
        if self.staff is not None:
            self.staff.ticket_filed(session, ticket)

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
        ).strip()  # "{note}" may be empty
        citizen = self._citizen(session, ticket)
        enqueue(session, citizen, body, ticket_id=ticket.id)
        if new in RATED_STATUSES:  # answered, and once more when closed if the citizen has not rated it yet
            self._ask_rating(session, citizen, ticket)

    def _ask_rating(self, session: Session, citizen: Citizen, ticket: Ticket) -> None:
        """After the status message, in the same chat: "how would you rate the handling?" with buttons 1-5; the
        conversation then takes the citizen's answer as the ticket's rating."""
        if self.ask_rating is None or ticket.rating is not None or not has_chat(citizen.channel):
            return
        ref = CitizenRef(citizen.id, citizen.channel, citizen.platform_user_id, citizen.display_name)
        try:
            replies = self.ask_rating(ref, ticket.code)
        except Exception:  # the conversation state store is down: the status change itself must still go through
            log.warning("could not ask the citizen to rate %s", ticket.code, exc_info=True)
            return
        for r in replies:
            enqueue(session, citizen, r.text, ticket_id=ticket.id, buttons=r.buttons)

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
        if self.staff is not None:  # once per ticket: escalate_overdue wins its conditional update only once
            self.staff.ticket_overdue(session, ticket)
