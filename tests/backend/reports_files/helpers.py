"""Filing tickets for the report and export tests through the real ticket service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from backend.container import Container
from backend.db.models import Citizen
from handlers.ports import TicketDraft


def file_ticket(
    container: Container,
    text: str,
    province: str | None,
    commune: str | None,
    *,
    user: str = "w-citizen-1",
    category: str = "ha_tang",
    anonymous: bool = False,
    phone: str | None = None,
    name: str | None = None,
    created_at: datetime | None = None,
) -> str:
    with container.scope() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == user)).first()
        if citizen is None:
            citizen = Citizen(channel="webchat", platform_user_id=user, chat_id=user, display_name=name, phone=phone)
            s.add(citizen)
            s.flush()
        draft = TicketDraft(
            text=text,
            category=category,
            category_confidence=0.9,
            province_code=province,
            commune_code=commune,
            anonymous=anonymous,
            phone=phone,
        )
        ticket = container.ops.file(s, citizen, draft)
        if created_at is not None:
            ticket.created_at = created_at
        code = ticket.code
        s.commit()
        return code
