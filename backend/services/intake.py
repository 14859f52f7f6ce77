"""Inbound messages: stored once (idempotent on the platform id) before anything else, then processed."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Citizen, Message, Ticket, utcnow
from backend.domain.codes import canonical_ticket_code
from backend.services.notify import enqueue
from bot.messages import Attachment, Button, GeoPoint, InboundMessage
from handlers.ports import CitizenRef, Reply, Turn

log = logging.getLogger(__name__)
SessionScope = Callable[[], AbstractContextManager[Session]]
Handle = Callable[[CitizenRef, InboundMessage], Turn | list[Reply]]
MAX_PROCESS_ATTEMPTS = 5


@dataclass(frozen=True)
class Stored:
    message_id: int
    citizen_id: int
    duplicate: bool


def message_to_data(msg: InboundMessage) -> dict[str, Any]:
    data = dataclasses.asdict(msg)
    data["sent_at"] = msg.sent_at.isoformat()
    return data


def message_from_data(data: dict[str, Any]) -> InboundMessage:
    values = dict(data)
    values["sent_at"] = datetime.fromisoformat(values["sent_at"])
    values["location"] = GeoPoint(**values["location"]) if values.get("location") else None
    values["attachments"] = tuple(Attachment(**a) for a in values.get("attachments") or ())
    return InboundMessage(**values)


def citizen_ref(citizen: Citizen) -> CitizenRef:
    return CitizenRef(citizen.id, citizen.channel, citizen.platform_user_id, citizen.display_name)


def own_ticket_id(session: Session, citizen_id: int, code: str | None) -> int | None:
    """The id of the citizen's own ticket with this code; ``None`` for unknown codes and other people's tickets."""
    canonical = canonical_ticket_code(code) if code else None
    if canonical is None:
        return None
    return session.scalar(select(Ticket.id).where(Ticket.code == canonical, Ticket.citizen_id == citizen_id))


def link_turn(session: Session, row: Message, citizen_id: int, turn: Turn) -> int | None:
    """Link the inbound message to the draft/ticket its turn belonged to; when the turn filed the draft, every
    earlier message of that draft (in and out) joins the ticket. Returns the ticket id for the turn's replies."""
    ticket_id = own_ticket_id(session, citizen_id, turn.ticket_code)
    row.draft_id, row.ticket_id = turn.draft_id, ticket_id
    if ticket_id is not None and turn.draft_id:
        session.execute(
            update(Message)
            .where(Message.citizen_id == citizen_id, Message.draft_id == turn.draft_id, Message.ticket_id.is_(None))
            .values(ticket_id=ticket_id)
            .execution_options(synchronize_session=False)
        )
    return ticket_id


def get_or_create_citizen(session: Session, msg: InboundMessage) -> Citizen:
    query = select(Citizen).where(Citizen.channel == msg.channel, Citizen.platform_user_id == msg.user_id)
    citizen = session.scalars(query).first()
    if citizen is None:
        try:
            with session.begin_nested():
                citizen = Citizen(
                    channel=msg.channel,
                    platform_user_id=msg.user_id,
                    chat_id=msg.chat_id,
                    display_name=msg.display_name,
                )
                session.add(citizen)
                session.flush()
        except IntegrityError:  # created concurrently by another process
            citizen = session.scalars(query).one()
    return citizen


class Intake:
    def __init__(self, scope: SessionScope, handle: Handle) -> None:
        self._scope = scope
        self._handle = handle

    def store(self, msg: InboundMessage) -> Stored:
        """Store the event once. A redelivery returns the first copy with ``duplicate=True``."""
        with self._scope() as session:
            existing = session.scalars(
                select(Message).where(
                    Message.channel == msg.channel,
                    Message.direction == "in",
                    Message.platform_message_id == msg.platform_message_id,
                )
            ).first()
            if existing is not None:
                return Stored(existing.id, existing.citizen_id or 0, True)
            citizen = get_or_create_citizen(session, msg)
            citizen.last_inbound_at = utcnow()
            if msg.chat_id and citizen.chat_id != msg.chat_id:
                citizen.chat_id = msg.chat_id
            row = Message(
                channel=msg.channel,
                direction="in",
                platform_message_id=msg.platform_message_id,
                citizen_id=citizen.id,
                kind=msg.kind,
                text=msg.text,
                data=message_to_data(msg),
            )
            try:
                with session.begin_nested():
                    session.add(row)
                    session.flush()
            except IntegrityError:
                session.rollback()
                dup = session.scalars(
                    select(Message).where(
                        Message.channel == msg.channel,
                        Message.direction == "in",
                        Message.platform_message_id == msg.platform_message_id,
                    )
                ).one()
                return Stored(dup.id, dup.citizen_id or 0, True)
            session.commit()
            return Stored(row.id, citizen.id, False)

    def process(self, message_id: int, *, deliver_inline: bool = False) -> list[Message]:
        """Run the conversation on a stored message and queue (or, for the web chat, store) the replies.

        Returns the outbound ``Message`` rows written inline (web chat), else an empty list.
        """
        with self._scope() as session:
            row = session.get(Message, message_id)
            if row is None or row.processed_at is not None:
                return []
            citizen = session.get(Citizen, row.citizen_id)
            assert citizen is not None
            msg = message_from_data(row.data)
            ref = citizen_ref(citizen)
        try:
            result = self._handle(ref, msg)
        except Exception as exc:
            log.exception("processing inbound message %s failed", message_id)
            with self._scope() as session:
                row = session.get(Message, message_id)
                assert row is not None
                row.process_attempts += 1
                row.process_error = f"{type(exc).__name__}: {exc}"
                if row.process_attempts >= MAX_PROCESS_ATTEMPTS:
                    row.processed_at = utcnow()
                session.commit()
            raise
        turn = result if isinstance(result, Turn) else Turn(list(result))
        with self._scope() as session:
            row = session.get(Message, message_id)
            citizen = session.get(Citizen, ref.id)
            assert row is not None and citizen is not None
            ticket_id = link_turn(session, row, citizen.id, turn)
            written: list[Message] = []
            for reply in turn.replies:
                buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
                if deliver_inline:
                    out = Message(
                        channel=citizen.channel,
                        direction="out",
                        citizen_id=citizen.id,
                        ticket_id=ticket_id,
                        draft_id=turn.draft_id,
                        kind="text",
                        text=reply.text,
                        data={"buttons": buttons, "in_reply_to": message_id},
                        author="bot",
                    )
                    session.add(out)
                    written.append(out)
                else:  # the outbox worker links the sent reply like the message it answers (``reply_to``)
                    enqueue(
                        session,
                        citizen,
                        reply.text,
                        buttons=[Button(**b) for b in buttons],
                        author="bot",
                        reply_to=msg.platform_message_id,
                    )
            row.processed_at = utcnow()
            row.process_error = None
            session.commit()
            return written
