"""The inbound worker's batch looks up once what every turn asks first (issue 16), and the answers stay right.

Before, each message of a batch opened its own sessions to learn whether its chat was an official's, whether its
citizen had a hand-off or a "please add information" ticket, and their consent, and made two Redis round trips for
its conversation state: the worker spent most of its time waiting on these, at 15–30 messages/s.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from backend.config import Settings
from backend.container import Container
from backend.db.models import Citizen, Message, OutboxItem, Ticket, utcnow
from backend.domain import statuses as st
from backend.services.state import RedisStateStore
from bot.messages import InboundMessage
from handlers.ports import CitizenRef


@pytest.fixture
def container(backend_urls: tuple[str, str], trained_model_dir: Path) -> Iterator[Container]:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=backend_urls[0],
        redis_url=backend_urls[1],
        model_dir=trained_model_dir,
        telegram_token="123456:TEST-token",
        telegram_secret="s" * 24,
    )
    c = Container(settings)
    from backend.app import prepare

    prepare(c, migrate=True)
    yield c
    c.close()


def tg(n: int, text: str) -> InboundMessage:
    chat = str(7000 + n)
    return InboundMessage("telegram", f"{chat}:{n}", chat, chat, text=text, display_name="Dân")


def count_statements(container: Container) -> Counter[str]:
    """Statements by the table they read first (``FROM x``), counted from now on."""
    seen: Counter[str] = Counter()

    @event.listens_for(container.engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        found = re.search(r"\bFROM (\w+)", statement)
        if statement.lstrip().upper().startswith("SELECT") and found:
            seen[found.group(1)] += 1

    return seen


def test_a_batch_looks_up_officials_chats_tickets_and_consent_once(container: Container) -> None:
    intake = container.intake
    stored = intake.store_many(
        [tg(i, "Đường ở xóm 3 bị ngập nước sau mưa lớn, đề nghị xã xử lý gấp") for i in range(20)]
    )
    seen = count_statements(container)
    assert intake.process_many([s.message_id for s in stored]) == 20
    assert seen["official_channel_links"] == 1  # was one per message
    assert seen["tickets"] <= 2  # hand-off and information requests, once each (was two per message)
    with container.scope() as session:
        processed = session.scalars(select(Message).where(Message.direction == "in")).all()
        assert all(m.processed_at is not None for m in processed)
        queued = set(session.scalars(select(OutboxItem.chat_id)))
        assert queued == {str(7000 + i) for i in range(20)}  # every citizen was answered


def test_prefetched_answers_are_the_databases_and_a_write_drops_them(container: Container) -> None:
    """A citizen whose ticket awaits more information: the batch's answer names it; after the turn wrote, the port
    asks the database again."""
    intake = container.intake
    (stored,) = intake.store_many([tg(1, "xin chào")])
    with container.scope() as session:
        citizen = session.get(Citizen, stored.citizen_id)
        assert citizen is not None
        ticket = Ticket(
            code="PA-TEST-0001",
            citizen_id=citizen.id,
            channel="telegram",
            text="Đèn đường hỏng",
            intent="gui_phan_anh",
            category="ha_tang",
            unit_code="TW",
            status=st.CAN_BO_SUNG,
            deadline=utcnow() + timedelta(days=5),
        )
        session.add(ticket)
        session.commit()
    ref = CitizenRef(stored.citizen_id, "telegram", "7001", "Dân")
    tickets = container.tickets
    tickets.prefetch([ref.id])
    seen = count_statements(container)
    assert tickets.awaiting_info(ref) == "PA-TEST-0001"  # from the batch's lookup ...
    assert tickets.get_consent(ref) is None
    assert sum(seen.values()) == 0
    tickets.set_consent(ref, "anonymous")  # ... a write drops the citizen's answers ...
    assert tickets.get_consent(ref) == "anonymous"  # ... and the next question goes to the database
    assert tickets.awaiting_info(ref) == "PA-TEST-0001"
    assert seen["tickets"] == 1 and seen["citizens"] >= 1
    tickets.prefetch([])


def test_states_of_a_batch_are_read_and_written_in_one_round_trip_each(container: Container) -> None:
    states: RedisStateStore = container.states
    states.save("t:a", {"step": "idle"}, 60)
    states.prefetch(["t:a", "t:b"])
    assert states.load("t:a") == {"step": "idle"}
    assert states.load("t:b") is None
    states.save("t:b", {"step": "await_location"}, 60)
    assert states.load("t:b") == {"step": "await_location"}  # a turn sees its own batch's writes ...
    other = RedisStateStore(container.kv)
    assert other.load("t:b") is None  # ... which reach Redis when the batch ends
    states.prefetch([])
    assert other.load("t:b") == {"step": "await_location"}
    states.delete("t:a")
    states.delete("t:b")
