"""A known data set for the summary reports, filed through TicketOps, then dated and answered as needed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from backend.db.models import Citizen, Official, Ticket, TicketEvent
from backend.domain.deadlines import VN_TZ
from handlers.ports import TicketDraft
from tests.backend.api.conftest import Api, add_official, api  # noqa: F401  (the app over a small tree)

__all__ = ["Api", "add_official", "file", "vn"]


def vn(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A time in Vietnam (stored as UTC by the tables)."""
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


@dataclass
class Filed:
    code: str
    id: int


def file(
    app: Api,
    text: str,
    *,
    unit: str,
    created: datetime,
    category: str = "ha_tang",
    channel: str = "webchat",
    urgent: bool = False,
    status: str | None = None,
    deadline: datetime | None = None,
    overdue: bool = False,
    answered: datetime | None = None,
    responded: datetime | None = None,
    rating: int | None = None,
) -> Filed:
    """File a ticket through TicketOps, then set its unit, dates, status, answer and rating as the test needs."""
    c = app.container
    with c.scope() as s:
        user = f"{channel}-citizen"
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == user)).first()
        if citizen is None:
            citizen = Citizen(channel=channel, platform_user_id=user, chat_id=user)
            s.add(citizen)
            s.flush()
        ticket = c.ops.file(s, citizen, TicketDraft(text=text, category=category, category_confidence=0.9))
        s.flush()
        official = s.scalars(select(Official).where(Official.username == "reports.actor")).first()
        if official is None:
            official = Official(username="reports.actor", password_hash="-", role="admin", unit_code="TW")
            s.add(official)
            s.flush()
        if answered is not None:
            c.ops.reply(s, official, ticket, "Đã tiếp nhận và trả lời.")
        elif responded is not None:
            c.ops.change_status(s, official, ticket, "dang_xu_ly", None)
        s.flush()
        s.execute(update(TicketEvent).where(TicketEvent.ticket_id == ticket.id).values(created_at=created))
        when = answered or responded
        if when is not None:
            s.execute(
                update(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.actor_type == "official")
                .values(created_at=when)
            )
        s.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id)
            .values(
                unit_code=unit,
                created_at=created,
                urgent=urgent,
                status=status or ticket.status,
                deadline=deadline if deadline is not None else created + timedelta(days=400),
                accept_deadline=None,
                overdue=overdue,
                rating=rating,
            )
        )
        s.commit()
        return Filed(ticket.code, ticket.id)
