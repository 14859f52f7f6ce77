"""The deadline scheduler: marks overdue tickets and escalates them one level up (safe with several workers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from backend.db.models import Ticket, utcnow
from backend.domain import statuses as st
from backend.services.tickets import TicketOps

log = logging.getLogger(__name__)
SessionScope = Callable[[], AbstractContextManager[Session]]


def overdue_ids(session: Session, limit: int = 200) -> list[int]:
    now = utcnow()
    return list(
        session.scalars(
            select(Ticket.id)
            .where(
                Ticket.overdue.is_(False),
                Ticket.status.in_(st.OPEN_STATUSES),
                or_(and_(Ticket.status == st.MOI, Ticket.accept_deadline < now), Ticket.deadline < now),
            )
            .order_by(Ticket.id)
            .limit(limit)
        )
    )


class SlaWorker:
    def __init__(self, scope: SessionScope, ops: TicketOps) -> None:
        self._scope = scope
        self._ops = ops

    def run_once(self) -> int:
        with self._scope() as session:
            ids = overdue_ids(session)
        escalated = 0
        for ticket_id in ids:
            with self._scope() as session:
                escalated += self._ops.escalate_overdue(session, ticket_id)
        if escalated:
            log.info("escalated %d overdue tickets", escalated)
        return escalated

    async def run_forever(self, stop: asyncio.Event, every: float = 60.0) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("deadline scheduler iteration failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
