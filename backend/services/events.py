"""One thing an official did to a ticket, as a line of the ticket's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.db.models import Official, Ticket, TicketEvent, utcnow


def official_event(
    session: Session,
    official: Official,
    ticket: Ticket,
    kind: str,
    *,
    note: str | None = None,
    public: bool = False,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TicketEvent:
    """Add the event (by ``official``, at ``at`` or now) to the session and return it; ``public`` events are also
    shown to the citizen."""
    event = TicketEvent(
        ticket_id=ticket.id,
        kind=kind,
        actor_type="official",
        actor_id=official.username,
        note=note,
        public=public,
        data=data or {},
        created_at=at or utcnow(),
    )
    session.add(event)
    return event
