"""The intake worker: processes stored inbound events (Telegram, Zalo) in order per citizen."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

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
    query = (
        select(Message)
        .where(
            Message.direction == "in",
            Message.processed_at.is_(None),
            Message.channel != "webchat",
            Message.process_attempts < MAX_PROCESS_ATTEMPTS,
            or_(Message.locked_until.is_(None), Message.locked_until < now),
            ~exists().where(
                and_(
                    older.direction == "in",
                    older.processed_at.is_(None),
                    older.citizen_id == Message.citizen_id,
                    older.id < Message.id,
                )
            ),
        )
        .order_by(Message.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Message)
    ids = [r.id for r in session.scalars(query)]
    won = []
    for row_id in ids:
        result = session.execute(
            update(Message)
            .where(
                Message.id == row_id,
                Message.processed_at.is_(None),
                or_(Message.locked_until.is_(None), Message.locked_until < now),
            )
            .values(locked_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            won.append(row_id)
    session.commit()
    return won


class InboundWorker:
    def __init__(self, scope: SessionScope, intake: Intake, batch: int = 20) -> None:
        self._scope = scope
        self._intake = intake
        self._batch = batch

    def _claim(self) -> list[int]:
        with self._scope() as session:
            return claim_inbound(session, self._batch)

    def consume(self, message_id: int) -> None:
        try:
            self._intake.process(message_id)
        except Exception:
            log.warning("inbound message %s will be retried", message_id)

            def retry_later() -> None:
                with self._scope() as session:
                    row = session.get(Message, message_id)
                    if row is not None:
                        row.locked_until = utcnow() + timedelta(seconds=5 * row.process_attempts)
                        session.commit()

            retry_transient(retry_later, f"inbound message {message_id}")

    async def run_once(self) -> int:
        ids = await asyncio.to_thread(self._claim)
        for message_id in ids:
            await asyncio.to_thread(self.consume, message_id)
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
