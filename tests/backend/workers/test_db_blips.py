"""A database connection dropped while a worker records an outcome (PostgreSQL restarted, a failover,
``pg_terminate_backend``): the worker records it again on a new connection at once, so a message already delivered
is not left leased and sent a second time two minutes later, and a failed inbound message is retried promptly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from backend.db.migrate import upgrade
from backend.db.models import Citizen, Message, OutboxItem
from backend.db.session import make_engine, make_session_factory
from backend.services.notify import enqueue
from backend.workers.inbound import InboundWorker
from backend.workers.outbox import OutboxWorker, RetryPolicy
from bot.base import ChannelSender, SendReceipt
from bot.messages import OutboundMessage


class Blips:
    """A session scope whose next ``pending`` commits fail as if the server had closed the connection."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.pending = 0

    def drop_next_commits(self, n: int = 1) -> None:
        self.pending = n

    @contextmanager
    def scope(self) -> Iterator[Session]:
        session = self.factory()
        commit = session.commit

        def flaky_commit() -> None:
            if self.pending > 0:
                self.pending -= 1
                raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
            commit()

        session.commit = flaky_commit  # type: ignore[method-assign]
        try:
            yield session
        finally:
            session.rollback()
            session.close()


@pytest.fixture
def blips(tmp_path: Path) -> Iterator[Blips]:
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    upgrade(engine)
    yield Blips(make_session_factory(engine))
    engine.dispose()


class DropsAfterSending(ChannelSender):
    channel = "telegram"
    text_limit = 4096
    supports_buttons = True

    def __init__(self, blips: Blips) -> None:
        self.blips, self.sent = blips, list[str]()

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        self.sent.append(msg.text)
        self.blips.drop_next_commits()  # the connection goes away right after the platform accepted the message
        return SendReceipt([f"m{len(self.sent)}"])


def _citizen(session: Session) -> Citizen:
    citizen = Citizen(channel="telegram", platform_user_id="42", chat_id="42")
    session.add(citizen)
    session.flush()
    return citizen


async def test_a_delivered_message_is_recorded_despite_a_dropped_connection(blips: Blips) -> None:
    with blips.factory() as s:
        enqueue(s, _citizen(s), "Phản ánh của Ông/Bà đã được tiếp nhận.")
        s.commit()
    sender = DropsAfterSending(blips)
    worker = OutboxWorker(blips.scope, {"telegram": sender}, policy=RetryPolicy(base_delay=0.0, max_delay=0.0))
    assert await worker.run_once() == 1
    with blips.factory() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert (item.status, item.locked_until) == ("sent", None)
        assert s.scalar(select(Message.text).where(Message.direction == "out")) == item.text
    assert sender.sent == [item.text]


async def test_an_inbound_failure_is_recorded_despite_a_dropped_connection(blips: Blips) -> None:
    with blips.factory() as s:
        citizen = _citizen(s)
        s.add(Message(channel="telegram", direction="in", platform_message_id="42:1", citizen_id=citizen.id, data={}))
        s.commit()

    class Failing:
        def process(self, message_id: int) -> Any:
            blips.drop_next_commits()
            raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

    worker = InboundWorker(blips.scope, Failing())  # type: ignore[arg-type]
    assert await worker.run_once() == 1  # the failure is recorded (retry soon), not left to the 60 s lease
    with blips.factory() as s:
        row = s.scalars(select(Message)).one()
        assert row.processed_at is None and row.locked_until is not None
        assert (row.locked_until - row.created_at).total_seconds() < 30
