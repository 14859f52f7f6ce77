"""The intake worker: processes stored inbound events (Telegram, Zalo) in order per citizen."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from sqlalchemy import func, literal_column, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from backend.db.models import Message, utcnow
from backend.services.intake import MAX_PROCESS_ATTEMPTS, Intake
from backend.workers.transient import retry_transient

log = logging.getLogger(__name__)
SessionScope = Callable[[], AbstractContextManager[Session]]
LEASE = timedelta(seconds=60)


def claim_inbound(session: Session, limit: int) -> list[int]:
    """Lease the oldest unprocessed message of each citizen (web chat is processed in its request)."""
    now = utcnow()
    older = aliased(Message)
    inbound: ColumnElement[Any] = literal_column(
        "'in'"
    )  # written out, not bound: the backlog's partial indexes are then usable
    query = (
        select(Message)
        .where(
            Message.direction == inbound,
            Message.processed_at.is_(None),
            Message.channel != "webchat",
            Message.process_attempts < MAX_PROCESS_ATTEMPTS,
            or_(Message.locked_until.is_(None), Message.locked_until < now),
            # the citizen's oldest unprocessed message: a correlated min() is always an index probe per row,
            # whatever the planner's statistics say (a NOT EXISTS anti-join turned into a scan of the whole
            # backlog per row on a young table, half a second per claim during a flood)
            Message.id
            == select(func.min(older.id))
            .where(older.citizen_id == Message.citizen_id, older.direction == inbound, older.processed_at.is_(None))
            .scalar_subquery(),
        )
        .order_by(Message.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Message)
    ids = list(session.scalars(query.with_only_columns(Message.id)))
    if not ids:
        session.rollback()
        return []
    result = session.execute(  # one statement for the batch; the conditions again, for SQLite (no row locks)
        update(Message)
        .where(
            Message.id.in_(ids),
            Message.processed_at.is_(None),
            or_(Message.locked_until.is_(None), Message.locked_until < now),
        )
        .values(locked_until=now + LEASE)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    won = set(result.scalars())
    session.commit()
    return [i for i in ids if i in won]


class InboundWorker:
    def __init__(self, scope: SessionScope, intake: Intake, batch: int = 100) -> None:
        self._scope = scope
        self._intake = intake
        self._batch = batch

    def _claim(self) -> list[int]:
        with self._scope() as session:
            return claim_inbound(session, self._batch)

    def consume(self, message_ids: list[int]) -> int:
        """Process a claimed batch; when it fails as a whole (the database went away), every message of it is retried
        a little later (its lease moved)."""
        try:
            return self._intake.process_many(message_ids)
        except Exception:
            log.warning("inbound messages %s will be retried", message_ids, exc_info=True)

            def retry_later() -> None:
                with self._scope() as session:
                    for row in session.scalars(select(Message).where(Message.id.in_(message_ids))):
                        row.locked_until = utcnow() + timedelta(seconds=5 * max(row.process_attempts, 1))
                    session.commit()

            retry_transient(retry_later, f"inbound messages {message_ids}")
            return 0

    async def run_once(self) -> int:
        """Claim a batch (the oldest unprocessed message of as many citizens, skipping rows other workers hold) and
        process it in one thread hop."""
        ids = await asyncio.to_thread(self._claim)
        if ids:
            await asyncio.to_thread(self.consume, ids)
        return len(ids)

    async def run_forever(self, stop: asyncio.Event, wakeup: asyncio.Event | None = None, idle: float = 0.3) -> None:
        wakeup = wakeup or asyncio.Event()
        while not stop.is_set():
            wakeup.clear()
            try:
                n = await self.run_once()
            except Exception:
                log.exception("inbound worker iteration failed")
                n = 0
            if n == 0:
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
                await asyncio.wait(waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
