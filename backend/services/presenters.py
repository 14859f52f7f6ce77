"""Ticket views shared by the JSON API and the console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.schemas import (
    ConversationEntry,
    LocationPublic,
    TicketDetailPublic,
    TicketEventPublic,
    TicketPublic,
    UnitPublic,
)
from backend.db.models import Message, Official, OrgUnit, Ticket, TicketEvent


def _name(session: Session, code: str | None) -> str | None:
    if not code:
        return None
    unit = session.get(OrgUnit, code)
    return unit.name if unit else None


def ticket_public(session: Session, t: Ticket) -> TicketPublic:
    return TicketPublic(
        code=t.code,
        status=t.status,
        intent=t.intent,
        intent_confidence=t.intent_confidence,
        category=t.category,
        category_confidence=t.category_confidence,
        urgent=t.urgent,
        text=t.text,
        location=LocationPublic(
            text=t.location_text,
            province_code=t.province_code,
            province=_name(session, t.province_code),
            commune_code=t.commune_code,
            commune=_name(session, t.commune_code),
            latitude=t.latitude,
            longitude=t.longitude,
        ),
        unit=UnitPublic(code=t.unit.code, name=t.unit.name, level=t.unit.level),
        routing_rule=t.routing_rule,
        routing_reason=t.routing_reason,
        accept_deadline=t.accept_deadline,
        deadline=t.deadline,
        overdue=t.overdue,
        rating=t.rating,
        channel=t.channel,
        created_at=t.created_at,
        updated_at=t.updated_at,
        assignee=t.assignee,
    )


def ticket_detail(session: Session, t: Ticket, official: Official) -> TicketDetailPublic:
    """The ticket as ``official`` may see it: the duplicates list names only tickets in their scope."""
    # Only the messages linked to this ticket (those that built it, and the exchanges about it since): never the
    # citizen's other tickets, greetings or chit-chat, which may carry names and phone numbers (or, for an
    # anonymous report, reveal who wrote it).
    messages = session.scalars(select(Message).where(Message.ticket_id == t.id).order_by(Message.id).limit(500))
    events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id))
    from backend.services.tickets import TicketOps

    cluster = [c.code for c in TicketOps.visible_cluster(session, official, t) if c.id != t.id]
    return TicketDetailPublic(
        **ticket_public(session, t).model_dump(),
        duplicates=cluster,
        conversation=[
            ConversationEntry(
                direction=m.direction,
                text=m.text,
                author=m.author,
                created_at=m.created_at,
            )
            for m in messages
        ],
        events=[
            TicketEventPublic(
                kind=e.kind,
                actor=e.actor_id,
                old_status=e.old_status,
                new_status=e.new_status,
                note=e.note,
                public=e.public,
                created_at=e.created_at,
            )
            for e in events
        ],
        attachments=list(t.attachments or []),
    )


def time_left(deadline: datetime | None, now: datetime, *, closed: bool = False) -> str:
    """The time left to a deadline as an official reads it: "còn 2 ngày", "còn 5 giờ", "quá hạn 1 ngày".

    Whole days from 24 hours on, whole hours below (at least one minute shown as "còn dưới 1 giờ"); empty for a
    ticket without a deadline or already closed.
    """
    if deadline is None or closed:
        return ""
    seconds = (deadline - now).total_seconds()
    span = abs(seconds)
    if span >= 86_400:
        amount = f"{int(span // 86_400)} ngày"
    elif span >= 3_600:
        amount = f"{int(span // 3_600)} giờ"
    else:
        amount = "dưới 1 giờ"
    return f"còn {amount}" if seconds >= 0 else f"quá hạn {amount}"
