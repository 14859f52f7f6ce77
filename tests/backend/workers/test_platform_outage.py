"""A platform that stays unreachable longer than the retry budget: replies wait for it instead of going to the dead
letters (nothing reached the citizen yet, and the platform will be back); other errors still give up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from backend.db.migrate import upgrade
from backend.db.models import Citizen, OutboxItem, utcnow
from backend.db.session import make_engine, make_session_factory
from backend.services.notify import enqueue
from backend.workers.outbox import OutboxWorker, RetryPolicy
from bot.base import ChannelSender, SendError, SendReceipt
from bot.messages import OutboundMessage

FAST = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0)


class Unreachable(ChannelSender):
    channel = "telegram"
    text_limit = 4096
    supports_buttons = True

    def __init__(self, down_for: int, reason: str = "network") -> None:
        self.down_for, self.reason, self.calls, self.sent = down_for, reason, 0, list[str]()

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        self.calls += 1
        if self.calls <= self.down_for:
            raise SendError("All connection attempts failed", reason=self.reason, retryable=True)
        self.sent.append(msg.text)
        return SendReceipt([f"m{self.calls}"])


@pytest.fixture
def factory(tmp_path: object) -> Iterator[sessionmaker[Session]]:
    engine: Engine = make_engine(f"sqlite:///{tmp_path}/o.db")
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _scope(factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    @contextmanager
    def scope() -> Iterator[Session]:
        s = factory()
        try:
            yield s
        finally:
            s.rollback()
            s.close()

    return scope


def _queue(factory: sessionmaker[Session], text: str) -> None:
    with factory() as s:
        citizen = Citizen(channel="telegram", platform_user_id="42", chat_id="42")
        s.add(citizen)
        s.flush()
        enqueue(s, citizen, text)
        s.commit()


async def test_replies_wait_for_a_platform_that_is_down_longer_than_the_retry_budget(
    factory: sessionmaker[Session],
) -> None:
    _queue(factory, "Xin chào Ông/Bà")
    sender = Unreachable(down_for=10)
    worker = OutboxWorker(_scope(factory), {"telegram": sender}, policy=FAST)
    for _ in range(12):
        await worker.run_once()
    assert sender.sent == ["Xin chào Ông/Bà"] and sender.calls == 11
    with factory() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert (item.status, item.attempts) == ("sent", 11)


async def test_an_unreachable_platform_is_given_up_on_only_after_a_long_time(factory: sessionmaker[Session]) -> None:
    _queue(factory, "Xin chào Ông/Bà")
    with factory() as s:  # queued two days ago, the platform unreachable ever since
        s.execute(update(OutboxItem).values(created_at=utcnow() - timedelta(days=2)))
        s.commit()
    worker = OutboxWorker(_scope(factory), {"telegram": Unreachable(down_for=99)}, policy=FAST)
    for _ in range(5):
        await worker.run_once()
    with factory() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert (item.status, item.attempts) == ("dead", 3)


async def test_other_errors_still_use_the_retry_budget(factory: sessionmaker[Session]) -> None:
    _queue(factory, "Xin chào Ông/Bà")
    worker = OutboxWorker(_scope(factory), {"telegram": Unreachable(down_for=99, reason="server_error")}, policy=FAST)
    for _ in range(5):
        await worker.run_once()
    with factory() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert (item.status, item.attempts) == ("dead", 3)
