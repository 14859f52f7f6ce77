"""Messages sent through the outbox (Telegram, Zalo) are linked to the draft and ticket they belong to, like the
web chat's: the bot's replies follow the message they answer, official replies keep their ticket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.db.migrate import upgrade
from backend.db.models import Citizen, Message, OrgUnit, OutboxItem, Ticket
from backend.db.session import make_engine, make_session_factory
from backend.services.intake import Intake
from backend.services.notify import enqueue
from backend.workers.outbox import mark_sent
from bot.messages import InboundMessage
from handlers.ports import CitizenRef, Reply, Turn

MINE, THEIRS = "PA-AAAA-0001", "PA-BBBB-0002"


@pytest.fixture
def factory(backend_urls: tuple[str, str]) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(backend_urls[0])
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        s.add(OrgUnit(code="TW", name="Ủy ban Trung ương MTTQ Việt Nam", short_name="TW", level="central"))
        me = Citizen(channel="telegram", platform_user_id="42", chat_id="42")
        other = Citizen(channel="telegram", platform_user_id="43", chat_id="43")
        s.add_all([me, other])
        s.flush()
        for code, owner in ((MINE, me), (THEIRS, other)):
            s.add(
                Ticket(
                    code=code, citizen_id=owner.id, channel="telegram", text="x", intent="gui_phan_anh", unit_code="TW"
                )
            )
        s.commit()
    yield factory
    engine.dispose()


def test_outbox_messages_follow_the_draft_and_ticket_of_their_turn(factory: sessionmaker[Session]) -> None:
    @contextmanager
    def scope() -> Iterator[Session]:
        with factory() as s:
            yield s

    turns = {
        "m1": Turn([Reply("Sự việc ở đâu ạ?")], draft_id="d1"),
        "m2": Turn([Reply("Xin kiểm tra lại")], draft_id="d1"),
        "m3": Turn([Reply(f"Đã tiếp nhận, mã {MINE}")], draft_id="d1", ticket_code=MINE),
        "m4": Turn([Reply("Xin chào")]),
        "m5": Turn([Reply("Không tìm thấy")], ticket_code=THEIRS),  # someone else's code: never linked
    }

    def handle(citizen: CitizenRef, msg: InboundMessage) -> Turn:
        return turns[msg.platform_message_id]

    intake = Intake(scope, handle)

    def say(pid: str) -> None:
        msg = InboundMessage(channel="telegram", platform_message_id=pid, user_id="42", chat_id="42", text=pid)
        intake.process(intake.store(msg).message_id)

    def send_all() -> None:
        with factory() as s:
            for item in s.scalars(select(OutboxItem).where(OutboxItem.status == "pending").order_by(OutboxItem.id)):
                mark_sent(s, item.id, [f"sent-{item.id}"])

    say("m1")
    send_all()  # the first answer is sent before the report is filed ...
    say("m2")
    say("m3")  # ... the second only after (a slow outbox): both end up linked
    with factory() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == MINE)).one()
        enqueue(s, ticket.citizen, "Trả lời từ Ủy ban", ticket_id=ticket.id, author="Ủy ban")
        s.commit()
    send_all()
    say("m4")
    say("m5")
    send_all()
    with factory() as s:
        ticket_id = s.scalars(select(Ticket.id).where(Ticket.code == MINE)).one()
        rows = list(s.scalars(select(Message).order_by(Message.id)))
        linked = [(m.direction, m.text) for m in rows if m.ticket_id == ticket_id]
        assert linked == [
            ("in", "m1"),
            ("out", "Sự việc ở đâu ạ?"),
            ("in", "m2"),
            ("in", "m3"),
            ("out", "Xin kiểm tra lại"),
            ("out", f"Đã tiếp nhận, mã {MINE}"),
            ("out", "Trả lời từ Ủy ban"),
        ]
        assert all(m.ticket_id is None for m in rows if m.text in ("m4", "Xin chào", "m5", "Không tìm thấy"))
        assert {m.draft_id for m in rows if m.ticket_id == ticket_id} == {"d1", None}  # None: the official reply


def test_a_batch_of_deliveries_is_recorded_with_two_reads_and_links_each_reply(factory: sessionmaker[Session]) -> None:
    """The outbox recorded each delivery with two reads of its own (the item, the message it answers): at a hundred
    items per batch, most of the worker's time. The batch is now read at once, and each reply still follows the
    draft of the message it answers."""
    from collections import Counter

    from sqlalchemy import event

    from backend.workers.outbox import mark_sent_many

    @contextmanager
    def scope() -> Iterator[Session]:
        with factory() as s:
            yield s

    intake = Intake(scope, lambda c, m: Turn([Reply(f"đáp {m.text}")], draft_id=f"d-{m.text}"))
    for n in range(12):
        msg = InboundMessage(channel="telegram", platform_message_id=f"b{n}", user_id="42", chat_id="42", text=str(n))
        intake.process(intake.store(msg).message_id)
    with factory() as s:
        items = list(s.scalars(select(OutboxItem).where(OutboxItem.status == "pending").order_by(OutboxItem.id)))
        assert len(items) == 12
        reads: Counter[str] = Counter()
        bind = s.get_bind()

        def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                reads[statement.split("FROM", 1)[1].split()[0]] += 1

        event.listen(bind, "before_cursor_execute", count)
        try:
            mark_sent_many(s, [(i.id, [f"sent-{i.id}"]) for i in items])
            s.commit()
        finally:
            event.remove(bind, "before_cursor_execute", count)
        assert sum(reads.values()) == 2, reads
        replies = s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)).all()
        assert [r.draft_id for r in replies] == [f"d-{n}" for n in range(12)]
        assert all(i.status == "sent" for i in s.scalars(select(OutboxItem)))
