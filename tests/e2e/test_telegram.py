"""Telegram end to end: webhook → stored once → conversation → reply through the outbox at a fake Bot API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.db.models import Citizen, Message, Ticket
from tests.drain import wait_until_drained
from tests.fakes.telegram_server import FakeTelegram, fake_telegram
from tests.liveserver import wait_for

SECRET = "webhook-Secret_123"
CODE = re.compile(r"PA-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
def tg(backend_urls: tuple[str, str], trained_model_dir: Path) -> Iterator[tuple[TestClient, Container, FakeTelegram]]:
    with fake_telegram() as fake:
        settings = Settings(
            _env_file=None,
            environment="test",
            database_url=backend_urls[0],  # type: ignore[call-arg]
            redis_url=backend_urls[1],
            model_dir=trained_model_dir,
            telegram_token=fake.token,
            telegram_secret=SECRET,
            telegram_api_url=fake.base_url,
            outbox_base_delay=0.05,
            outbox_max_delay=0.2,
        )
        container = Container(settings)
        with TestClient(create_app(settings, container)) as client:
            yield client, container, fake
        container.close()


_ids = iter(range(5000, 10_000))


def update(text: str | None = None, *, callback: str | None = None, chat: int = 4242) -> dict[str, Any]:
    uid = next(_ids)
    user = {"id": chat, "is_bot": False, "first_name": "Hùng"}
    if callback is not None:
        return {
            "update_id": uid,
            "callback_query": {
                "id": f"cb{uid}",
                "from": user,
                "chat_instance": "x",
                "data": callback,
                "message": {"message_id": 1, "date": 1, "chat": {"id": chat, "type": "private"}},
            },
        }
    return {
        "update_id": uid,
        "message": {
            "message_id": uid,
            "date": 1800000000,
            "text": text,
            "chat": {"id": chat, "type": "private"},
            "from": user,
        },
    }


def post(client: TestClient, body: dict[str, Any], secret: str | None = SECRET) -> Any:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return client.post("/webhooks/telegram", json=body, headers=headers)


def texts(fake: FakeTelegram) -> list[str]:
    return [c["text"] for c in fake.sent()]


def test_a_report_on_telegram_gets_a_ticket_code(tg: tuple[TestClient, Container, FakeTelegram]) -> None:
    client, container, fake = tg
    r = post(client, update("xin chào"))
    assert r.status_code == 200 and r.json()["ok"] is True
    wait_for(lambda: any("13/2023" in t for t in texts(fake)))
    consent = next(c for c in fake.sent() if "13/2023" in c["text"])
    assert next(b[0]["callback_data"] for b in consent["reply_markup"]["inline_keyboard"]) == "consent:named"

    post(client, update(callback="consent:named"))
    wait_for(lambda: fake.sent("answerCallbackQuery") != [])  # the button press is always answered
    post(client, update("Cây xanh đổ chắn ngang đường ở phường Hoàn Kiếm, Hà Nội, xe không qua được"))
    wait_for(lambda: any("kiểm tra lại" in t for t in texts(fake)) or any("lĩnh vực" in t for t in texts(fake)))
    if any("lĩnh vực" in t for t in texts(fake)):
        post(client, update(callback="category:ha_tang"))
        wait_for(lambda: any("kiểm tra lại" in t for t in texts(fake)))
    post(client, update(callback="confirm:send"))
    wait_for(lambda: any(CODE.search(t) for t in texts(fake)))
    filed = next(t for t in texts(fake) if CODE.search(t))
    assert "Phường Hoàn Kiếm" in filed
    with container.scope() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.channel == "telegram" and ticket.unit_code == "00070"
        assert ticket.code in filed


def test_forged_secret_is_refused_and_nothing_stored(tg: tuple[TestClient, Container, FakeTelegram]) -> None:
    client, container, fake = tg
    for secret in (None, "", "wrong", SECRET.lower()):
        assert post(client, update("xin chào"), secret).status_code == 403
    assert (
        client.post(
            "/webhooks/telegram",
            content=b"{broken",
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "content-type": "application/json"},
        ).status_code
        == 400
    )
    with container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0
        assert s.scalar(select(func.count()).select_from(Citizen)) == 0
    assert fake.sent() == []


def test_redelivered_update_is_processed_once(tg: tuple[TestClient, Container, FakeTelegram]) -> None:
    client, container, fake = tg
    body = update("xin chào", chat=777)
    assert post(client, body).json()["outcome"] == "accepted"
    assert post(client, body).json()["outcome"] == "duplicate"
    wait_for(lambda: len(fake.sent()) >= 2)
    wait_until_drained(container)  # every reply delivered: nothing more can arrive, so the counts are final
    with container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1
    assert len([t for t in texts(fake) if "13/2023" in t]) == 1


def test_flood_limits_and_errors_still_deliver_exactly_once(tg: tuple[TestClient, Container, FakeTelegram]) -> None:
    client, container, fake = tg
    fake.fail("sendMessage", 429, times=2, retry_after=1)
    fake.fail("sendMessage", 502, times=2)
    post(client, update("xin chào", chat=999))
    wait_for(lambda: len([t for t in texts(fake) if "13/2023" in t]) >= 1, seconds=30)
    wait_until_drained(container)
    delivered = [t for t in texts(fake) if t.startswith("Xin chào Ông/Bà")]
    assert len(delivered) == 1  # the greeting, once, after four failed attempts
    assert fake.attempts() >= len(texts(fake)) + 4
    assert len([t for t in texts(fake) if "13/2023" in t]) == 1


def test_ignored_updates_are_acknowledged_and_recorded(tg: tuple[TestClient, Container, FakeTelegram]) -> None:
    client, container, _ = tg
    edited = {
        "update_id": 1,
        "edited_message": {
            "message_id": 1,
            "date": 1,
            "edit_date": 2,
            "text": "x",
            "chat": {"id": 1, "type": "private"},
        },
    }
    r = post(client, edited)
    assert r.status_code == 200 and r.json()["outcome"] == "ignored:edited_message"
    with container.scope() as s:
        row = s.scalars(select(Message)).one()
        assert row.kind == "ignored" and row.processed_at is not None
