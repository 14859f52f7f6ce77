"""Waiting for the background workers to finish, instead of sleeping a fixed time before counting deliveries."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from backend.container import Container
from backend.db.models import Message, OutboxItem


def pending_work(container: Container) -> tuple[int, int]:
    """(inbound messages not processed yet, outbox items not delivered yet, leased ones included)."""
    with container.scope() as s:
        inbound = s.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in", Message.processed_at.is_(None))
        )
        outbox = s.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.status == "pending")  # a leased item stays pending until its send is recorded
        )
    return int(inbound or 0), int(outbox or 0)


def wait_until_drained(container: Container, seconds: float = 30) -> None:
    """Return once every stored inbound message is processed and every queued reply is delivered (nothing pending,
    nothing leased): after that no further message can reach the platform, so counting what it received is exact.
    """
    deadline = time.monotonic() + seconds
    while True:
        left = pending_work(container)
        if left == (0, 0):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"workers not drained after {seconds} s: (inbound, outbox) still pending = {left}")
        time.sleep(0.05)
