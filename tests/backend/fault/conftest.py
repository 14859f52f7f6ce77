"""Fault tests: real PostgreSQL (a fresh database per test), a private redis-server started (and killed) by the test,
the fake Telegram Bot API on a port known in advance (it may come up late), and citizens writing through the webhook.

Every test ends with the same checks (``Ledger.check``): every acknowledged update is answered, every queued reply
reaches the citizen exactly once (or, where a worker died in the middle of a send, at most twice: the documented
at-least-once window of the outbox lease), and every ticket code a citizen was given exists.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.db.models import Message, OutboxItem, Ticket
from tests.fakes.outage import LateTelegram, PrivateRedis, late_telegram, private_redis
from tests.liveserver import wait_for

SECRET = "fault-Secret_123"
CODE = re.compile(r"PA-[0-9A-Z]{4}-[0-9A-Z]{4}")
REPORT = "Cây xanh đổ chắn ngang đường ở phường Hoàn Kiếm, Hà Nội, xe không qua được"
_ids = itertools.count(10_000)


def fault_settings(pg_url: str, redis: PrivateRedis, late: LateTelegram, model_dir: Path, **kw: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": pg_url,
        "redis_url": redis.url,
        "model_dir": model_dir,
        "bootstrap_model": False,
        "telegram_token": late.fake.token,
        "telegram_secret": SECRET,
        "telegram_api_url": late.base_url,
        "outbox_base_delay": 0.1,
        "outbox_max_delay": 1.0,
        "outbox_max_attempts": 200,  # outages in these tests are short: nothing should go to the dead letters
    }
    values.update(kw)
    return Settings(_env_file=None, **values)


@dataclass(frozen=True)
class Item:
    id: int
    chat_id: str
    text: str
    reply_to: str | None
    status: str


@dataclass
class Ledger:
    """The updates the app acknowledged (HTTP 200), for the final checks."""

    client: TestClient
    container: Container
    late: LateTelegram
    acked: list[str] = field(default_factory=list)  # platform message ids
    refused: int = 0

    def post(self, chat: int, text: str | None = None, callback: str | None = None) -> bool:
        """One update from ``chat``; True when the app acknowledged it (then it must be answered)."""
        uid = next(_ids)
        user = {"id": chat, "is_bot": False, "first_name": "Lan"}
        if callback is not None:
            body: dict[str, Any] = {
                "update_id": uid,
                "callback_query": {
                    "id": f"cb{uid}",
                    "from": user,
                    "chat_instance": "x",
                    "data": callback,
                    "message": {"message_id": 1, "date": 1, "chat": {"id": chat, "type": "private"}},
                },
            }
            pid = f"cbq:cb{uid}"
        else:
            body = {
                "update_id": uid,
                "message": {
                    "message_id": uid,
                    "date": 1800000000,
                    "text": text,
                    "chat": {"id": chat, "type": "private"},
                    "from": user,
                },
            }
            pid = f"{chat}:{uid}"
        try:
            r = self.client.post("/webhooks/telegram", json=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        except Exception:  # the connection itself failed: not acknowledged, the platform would deliver it again
            self.refused += 1
            return False
        if r.status_code == 200:
            self.acked.append(pid)
            return True
        self.refused += 1
        return False

    def texts_to(self, chat: int) -> list[str]:
        return [c["text"] for c in self.late.fake.sent() if str(c["chat_id"]) == str(chat)]

    def settled(self) -> bool:
        """Every acknowledged update processed and every queued reply delivered (or given up)."""
        with self.container.scope() as s:
            unprocessed = s.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.direction == "in", Message.processed_at.is_(None))
            )
            pending = s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending"))
        return unprocessed == 0 and pending == 0

    def wait_settled(self, seconds: float = 60) -> None:
        try:
            wait_for(lambda: _quietly(self.settled), seconds=seconds)
        except AssertionError:
            with self.container.scope() as s:
                stuck_in = [
                    (m.id, m.platform_message_id, m.process_attempts, m.process_error, m.locked_until)
                    for m in s.scalars(select(Message).where(Message.direction == "in", Message.processed_at.is_(None)))
                ]
                stuck_out = [
                    (i.id, i.chat_id, i.attempts, i.last_error, i.locked_until, i.next_attempt_at)
                    for i in s.scalars(select(OutboxItem).where(OutboxItem.status == "pending"))
                ]
            raise AssertionError(f"not settled: inbound {stuck_in}, outbox {stuck_out}") from None

    def check(self, may_repeat: set[int] | frozenset[int] = frozenset()) -> dict[str, int]:
        """The invariants. ``may_repeat``: outbox ids that were in flight when a worker died (at most twice)."""
        self.wait_settled()
        with self.container.scope() as s:
            inbound = {
                m.platform_message_id: (m.processed_at, m.process_error)
                for m in s.scalars(select(Message).where(Message.direction == "in"))
            }
            items = [Item(i.id, i.chat_id, i.text, i.reply_to, i.status) for i in s.scalars(select(OutboxItem))]
            codes = set(s.scalars(select(Ticket.code)))
        # every acknowledged update was stored once and processed without giving up
        for pid in self.acked:
            row = inbound.get(pid)
            assert row is not None, f"acknowledged update {pid} was lost"
            assert row[0] is not None and row[1] is None, (pid, row)
        # ... and answered: a reply to each acknowledged text message reached the platform
        replied = {i.reply_to for i in items}
        unanswered = [p for p in self.acked if not p.startswith("cbq:") and p not in replied]
        assert not unanswered, f"acknowledged but never answered: {unanswered}"
        assert [i.id for i in items if i.status != "sent"] == [], "replies not delivered"
        # every queued reply reached the citizen exactly once (at most twice if it was in flight when a worker died)
        delivered = Counter((str(c["chat_id"]), c["text"]) for c in self.late.fake.sent())
        queued = Counter((i.chat_id, i.text) for i in items)
        for key, n in queued.items():
            assert delivered[key] >= n, f"queued {n}, delivered {delivered[key]}: {key}"
        repeats = {key: delivered[key] - queued[key] for key in delivered if delivered[key] > queued[key]}
        allowed = Counter((i.chat_id, i.text) for i in items if i.id in may_repeat)
        for key, extra in repeats.items():
            assert extra <= allowed[key], f"answered twice beyond the at-least-once window: {key}"
        assert set(delivered) <= set(queued), "something was sent that was never queued"
        # no ticket lost: every code a citizen was given exists
        given = {m for text in (c["text"] for c in self.late.fake.sent()) for m in CODE.findall(text)}
        assert given <= codes, f"citizens were given codes of tickets that do not exist: {given - codes}"
        return {
            "acked": len(self.acked),
            "replies": len(items),
            "tickets": len(codes),
            "codes_given": len(given),
            "repeated": sum(repeats.values()),
        }


def _quietly(predicate: Any) -> bool:
    try:
        return bool(predicate())
    except Exception:  # the database may be briefly unreachable while a test breaks it
        return False


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
def telegram() -> Iterator[LateTelegram]:
    with late_telegram() as late:
        yield late


@pytest.fixture
def start_app(
    pg_url: str, redis_server: PrivateRedis, telegram: LateTelegram, trained_model_dir: Path
) -> Iterator[Any]:
    """Start the app (API + workers in one process); returns a ``Ledger`` to drive and check it."""
    opened: list[tuple[TestClient, Container]] = []

    def start(**kw: Any) -> Ledger:
        settings = fault_settings(pg_url, redis_server, telegram, trained_model_dir, **kw)
        container = Container(settings)
        client = TestClient(create_app(settings, container), raise_server_exceptions=False)
        client.__enter__()
        opened.append((client, container))
        return Ledger(client, container, telegram)

    yield start
    for client, container in reversed(opened):
        client.__exit__(None, None, None)
        container.close()


def converse(ledger: Ledger, chat: int, steps: list[dict[str, str]]) -> None:
    for step in steps:
        ledger.post(chat, **step)


TICKET_STEPS: list[dict[str, str]] = [
    {"text": "xin chào"},
    {"callback": "consent:named"},
    {"text": REPORT},
    {"callback": "category:ha_tang"},  # answers the category question if the model asks it, else a no-op
    {"callback": "confirm:send"},
]
