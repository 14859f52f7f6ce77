"""The retention job: personal data of tickets closed longer ago than ``GOPY_RETENTION_MONTHS`` is erased.

Each expired ticket loses its text, place description, coordinates, contact, attachments, rating comment and the
messages that built it; its category, unit, status, dates and stars stay for the reports. A citizen keeps their chat
identity while any of their tickets still holds personal data or while they have written within the period; after
that the identity and the remaining messages go too. Safe with several workers (the first to mark a ticket wins).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from backend.db.models import Citizen, utcnow
from backend.services.privacy import (
    RETENTION_ACTOR,
    closed_before,
    dormant_citizens,
    erase_citizen,
    expire_ticket,
    months_before,
)
from handlers.ports import StateStore

log = logging.getLogger(__name__)
SessionScope = Callable[[], AbstractContextManager[Session]]


@dataclass
class RetentionPass:
    """What one pass erased."""

    tickets: list[str] = field(default_factory=list)
    citizens: list[int] = field(default_factory=list)


class RetentionWorker:
    BATCH = 200

    def __init__(self, scope: SessionScope, states: StateStore | None, months: int) -> None:
        if months < 1:
            raise ValueError("retention must be at least one month")
        self._scope = scope
        self._states = states
        self.months = months

    def run_once(self, now: datetime | None = None) -> RetentionPass:
        """One pass over everything expired at ``now`` (default: the current time)."""
        now = now or utcnow()
        cutoff = months_before(now, self.months)
        done = RetentionPass()
        while True:
            with self._scope() as session:
                ids = closed_before(session, cutoff, self.BATCH)
            for ticket_id in ids:
                with self._scope() as session:
                    erased = expire_ticket(session, ticket_id, now)
                    session.commit()
                if erased is not None:
                    done.tickets += erased.ticket_codes
            if len(ids) < self.BATCH:
                break
        while True:
            with self._scope() as session:
                ids = dormant_citizens(session, cutoff, self.BATCH)
            for citizen_id in ids:
                with self._scope() as session:
                    citizen = session.get(Citizen, citizen_id, with_for_update=True)
                    if citizen is None or citizen.erased_at is not None:
                        continue
                    erase_citizen(
                        session, citizen, states=self._states, actor=RETENTION_ACTOR, now=now, action="retention_erase"
                    )
                    session.commit()
                    done.citizens.append(citizen_id)
            if len(ids) < self.BATCH:
                break
        if done.tickets or done.citizens:
            log.info(
                "retention (%d months): erased personal data of %d tickets and %d citizens",
                self.months,
                len(done.tickets),
                len(done.citizens),
            )
        return done

    async def run_forever(self, stop: asyncio.Event, every: float = 3600.0) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("retention pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
