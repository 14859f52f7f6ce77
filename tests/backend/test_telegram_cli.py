"""``gopy telegram set-webhook`` and ``gopy telegram poll`` (the Telegram channel's own commands) against the fake
Telegram server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from backend.cli import app
from backend.config import get_settings
from tests.fakes.telegram_server import FakeTelegram, fake_telegram


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeTelegram]:
    with fake_telegram() as f:
        env = {
            "GOPY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
            "GOPY_REDIS_URL": "",
            "GOPY_TELEGRAM_TOKEN": f.token,
            "GOPY_TELEGRAM_SECRET": "tg-secret-1",
            "GOPY_TELEGRAM_API_URL": f.base_url,
            "GOPY_BOOTSTRAP_MODEL": "false",  # no model training here: the message only has to be stored
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()
        yield f
    get_settings.cache_clear()


def test_set_webhook_registers_url_and_secret(fake: FakeTelegram) -> None:
    result = CliRunner().invoke(app, ["telegram", "set-webhook", "https://gopy.example.vn/webhooks/telegram"])
    assert result.exit_code == 0, result.output
    assert "webhook set" in result.output
    calls = [c for c in fake.calls if c.method == "setWebhook"]
    assert len(calls) == 1
    assert calls[0].params["url"] == "https://gopy.example.vn/webhooks/telegram"
    assert calls[0].params["secret_token"] == "tg-secret-1"


def test_set_webhook_without_a_secret_fails_clearly(fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOPY_TELEGRAM_SECRET", "")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["telegram", "set-webhook", "https://gopy.example.vn/webhooks/telegram"])
    assert result.exit_code == 2 and "GOPY_TELEGRAM_SECRET" in result.output
    assert [c for c in fake.calls if c.method == "setWebhook"] == []


def test_poll_stores_updates_as_the_webhook_would(fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.telegram.sender as sender_module
    from backend.db.models import Message
    from backend.db.session import make_engine, make_session_factory

    original = sender_module.poll_updates

    async def two_rounds(sender: Any, handle: Any, max_rounds: int | None = None) -> None:
        await original(sender, handle, max_rounds=2)

    monkeypatch.setattr(sender_module, "poll_updates", two_rounds)
    user = {"id": 77, "is_bot": False, "first_name": "Lan"}
    message = {"message_id": 9, "date": 1800000000, "chat": {"id": 77, "type": "private"}, "from": user}
    fake.updates = [{"update_id": 501, "message": {**message, "text": "Đèn đường hỏng ở Hoàn Kiếm"}}]
    result = CliRunner().invoke(app, ["telegram", "poll"])
    assert result.exit_code == 0, result.output
    assert [c.method for c in fake.calls][:2] == ["getMe", "deleteWebhook"]
    engine = make_engine(get_settings().database_url)
    try:
        with make_session_factory(engine)() as s:
            rows = s.scalars(select(Message).where(Message.direction == "in")).all()
            assert [(m.channel, m.platform_message_id, m.text) for m in rows] == [
                ("telegram", "77:9", "Đèn đường hỏng ở Hoàn Kiếm")
            ]
    finally:
        engine.dispose()
