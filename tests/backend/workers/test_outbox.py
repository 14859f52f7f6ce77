"""The durable outbox: retries, dead letters, order per chat, exactly-once with concurrent workers."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from backend.db.migrate import upgrade
from backend.db.models import Citizen, Message, OrgUnit, OutboxItem, Ticket, TicketEvent
from backend.db.session import make_engine, make_session_factory
from backend.services.notify import enqueue
from backend.workers.outbox import OutboxWorker, RetryPolicy
from bot.base import ChannelSender, SendError, SendReceipt
from bot.messages import OutboundMessage


class RecordingSender(ChannelSender):
    """Fails the first ``failures`` calls with the given error, then records deliveries."""

    channel = "telegram"
    text_limit = 4096
    supports_buttons = True

    def __init__(self, failures: int = 0, error: SendError | None = None, delay: float = 0.0) -> None:
        self.failures = failures
        self.error = error or SendError("HTTP 502", reason="server_error", retryable=True)
        self.delay = delay
        self.sent: list[OutboundMessage] = []
        self.calls = 0

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        self.sent.append(msg)
        return SendReceipt([f"m{len(self.sent)}"])


@pytest.fixture
def db(backend_urls: tuple[str, str]) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = make_engine(backend_urls[0])
    upgrade(engine)
    yield engine, make_session_factory(engine)
    engine.dispose()


def scope_of(factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    from contextlib import contextmanager

    @contextmanager
    def scope() -> Iterator[Session]:
        s = factory()
        try:
            yield s
        finally:
            s.rollback()
            s.close()

    return scope


def _citizen(s: Session, channel: str = "telegram", chat: str = "42") -> Citizen:
    c = Citizen(channel=channel, platform_user_id=chat, chat_id=chat)
    s.add(c)
    s.flush()
    return c


FAST = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0)


async def test_retries_then_delivers_once(db: tuple[Engine, sessionmaker[Session]]) -> None:
    _, factory = db
    with factory() as s:
        enqueue(s, _citizen(s), "Phản ánh của Ông/Bà đã được tiếp nhận.")
        s.commit()
    sender = RecordingSender(failures=2)
    worker = OutboxWorker(scope_of(factory), {"telegram": sender}, policy=FAST)
    for _ in range(5):
        await worker.run_once()
    assert [m.text for m in sender.sent] == ["Phản ánh của Ông/Bà đã được tiếp nhận."]
    assert sender.calls == 3
    with factory() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert (item.status, item.attempts, item.platform_message_ids) == ("sent", 3, ["m1"])
        out = s.scalars(select(Message).where(Message.direction == "out")).one()
        assert out.text == item.text and out.platform_message_id == "42:m1"


class PerChatSender(RecordingSender):
    """Numbers messages per chat, as Telegram does: the first message in every chat is message 1."""

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        await super().send(msg)
        return SendReceipt([str(sum(1 for m in self.sent if m.chat_id == msg.chat_id))])


async def test_message_ids_numbered_per_chat_are_recorded_for_every_chat(
    db: tuple[Engine, sessionmaker[Session]],
) -> None:
    _, factory = db
    with factory() as s:
        for chat in ("42", "43"):
            enqueue(s, _citizen(s, chat=chat), f"Trả lời cho {chat}")
        s.commit()
    sender = PerChatSender()
    worker = OutboxWorker(scope_of(factory), {"telegram": sender}, policy=FAST)
    for _ in range(3):
        await worker.run_once()
    assert sorted(m.text for m in sender.sent) == ["Trả lời cho 42", "Trả lời cho 43"]  # each sent once
    with factory() as s:
        assert {i.status for i in s.scalars(select(OutboxItem))} == {"sent"}
        out = s.scalars(select(Message).where(Message.direction == "out")).all()
        assert sorted(m.platform_message_id or "" for m in out) == ["42:1", "43:1"]


async def test_retry_after_is_honoured(db: tuple[Engine, sessionmaker[Session]]) -> None:
    _, factory = db
    with factory() as s:
        enqueue(s, _citizen(s), "xin chào")
        s.commit()
    err = SendError("Too Many Requests", reason="rate_limited", retryable=True, retry_after=30)
    worker = OutboxWorker(scope_of(factory), {"telegram": RecordingSender(failures=1, error=err)}, policy=FAST)
    await worker.run_once()
    assert await worker.run_once() == 0  # not due for 30 s
    with factory() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert item.status == "pending" and item.attempts == 1
        assert item.last_error is not None and item.last_error.startswith("rate_limited")
        assert (item.next_attempt_at - item.created_at).total_seconds() >= 29


async def test_dead_letter_after_max_attempts_and_on_permanent_errors(db: tuple[Engine, sessionmaker[Session]]) -> None:
    _, factory = db
    with factory() as s:
        s.add(OrgUnit(code="TW", name="Trung ương", short_name="TW", level="central"))
        citizen = _citizen(s, "zalo", "u-7")
        ticket = Ticket(
            code="PA-AAAA-BBBB", citizen_id=citizen.id, channel="zalo", text="x", intent="gui_phan_anh", unit_code="TW"
        )
        s.add(ticket)
        s.flush()
        enqueue(s, citizen, "Trả lời của cán bộ", ticket_id=ticket.id)
        enqueue(s, _citizen(s, "telegram", "9"), "tin nhắn khác")
        s.commit()
    not_interacted = SendError("user has not interacted", reason="not_interacted", retryable=False)
    zalo = RecordingSender(failures=1, error=not_interacted)
    telegram = RecordingSender(failures=99)
    worker = OutboxWorker(scope_of(factory), {"zalo": zalo, "telegram": telegram}, policy=FAST)
    for _ in range(6):
        await worker.run_once()
    with factory() as s:
        items = {i.channel: i for i in s.scalars(select(OutboxItem))}
        assert (items["zalo"].status, items["zalo"].attempts) == ("dead", 1)
        assert (items["telegram"].status, items["telegram"].attempts) == ("dead", 4)
        event = s.scalars(select(TicketEvent).where(TicketEvent.kind == "undelivered")).one()
        assert "not_interacted" in (event.data or {}).get("reason", "")  # officials see the citizen was not reached
    assert telegram.calls == 4


async def test_order_is_kept_per_chat(db: tuple[Engine, sessionmaker[Session]]) -> None:
    _, factory = db
    with factory() as s:
        c = _citizen(s)
        for i in range(3):
            enqueue(s, c, f"tin {i}")
        s.commit()
    sender = RecordingSender(failures=1)
    worker = OutboxWorker(scope_of(factory), {"telegram": sender}, policy=FAST)
    for _ in range(6):
        await worker.run_once()
    assert [m.text for m in sender.sent] == ["tin 0", "tin 1", "tin 2"]


async def test_webchat_items_land_in_the_sessions_messages(db: tuple[Engine, sessionmaker[Session]]) -> None:
    _, factory = db
    with factory() as s:
        enqueue(s, _citizen(s, "webchat", "w-session-1"), "Phản hồi từ cán bộ")
        s.commit()
    worker = OutboxWorker(scope_of(factory), {}, policy=FAST)
    assert await worker.run_once() == 1
    with factory() as s:
        assert s.scalars(select(OutboxItem)).one().status == "sent"
        assert s.scalars(select(Message)).one().text == "Phản hồi từ cán bộ"


async def test_concurrent_workers_deliver_each_message_exactly_once(db: tuple[Engine, sessionmaker[Session]]) -> None:
    _, factory = db
    with factory() as s:
        for chat in range(30):
            c = _citizen(s, chat=str(chat))
            for i in range(3):
                enqueue(s, c, f"{chat}:{i}")
        s.commit()
    sender = RecordingSender(delay=0.001)
    workers = [OutboxWorker(scope_of(factory), {"telegram": sender}, policy=FAST, batch=7) for _ in range(3)]

    async def drain(w: OutboxWorker) -> None:
        for _ in range(40):
            await w.run_once()

    await asyncio.gather(*(drain(w) for w in workers))
    counts = Counter(m.text for m in sender.sent)
    assert len(counts) == 90 and set(counts.values()) == {1}
    by_chat: dict[str, list[str]] = {}
    for m in sender.sent:
        by_chat.setdefault(m.chat_id, []).append(m.text)
    assert all(v == [f"{k}:0", f"{k}:1", f"{k}:2"] for k, v in by_chat.items())
