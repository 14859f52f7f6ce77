"""Inbound messages: stored once (idempotent on the platform id) before anything else, then processed."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Citizen, Message, utcnow
from backend.services.notify import enqueue
from bot.messages import Attachment, Button, GeoPoint, InboundMessage
from handlers.ports import CitizenRef, Reply

log = logging.getLogger(__name__)
SessionScope = Callable[[], AbstractContextManager[Session]]
Handle = Callable[[CitizenRef, InboundMessage], list[Reply]]
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
            replies = self._handle(ref, msg)
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
        with self._scope() as session:
            row = session.get(Message, message_id)
            citizen = session.get(Citizen, ref.id)
            assert row is not None and citizen is not None
            written: list[Message] = []
            for reply in replies:
                buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
                if deliver_inline:
                    out = Message(
                        channel=citizen.channel,
                        direction="out",
                        citizen_id=citizen.id,
                        kind="text",
                        text=reply.text,
                        data={"buttons": buttons, "in_reply_to": message_id},
                        author="bot",
                    )
                    session.add(out)
                    written.append(out)
                else:
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
