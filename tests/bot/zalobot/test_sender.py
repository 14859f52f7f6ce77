"""ZaloBotSender against the fake Zalo Bot API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.base import SendError
from bot.messages import Button, OutboundMessage
from bot.zalobot import ZaloBotSender
from tests.fakes.zalo_server import FakeZalo, fake_zalo


@pytest.fixture
def fake() -> Iterator[FakeZalo]:
    with fake_zalo() as f:
        yield f


async def test_text_buttons_degrade_and_long_text_splits(fake: FakeZalo) -> None:
    sender = ZaloBotSender(fake.bot_token, base_url=fake.bot_base_url)
    await sender.send(OutboundMessage("zalobot", "zb-user-1", "Chọn một:", (Button("Có", "y"), Button("Không", "n"))))
    receipt = await sender.send(OutboundMessage("zalobot", "zb-user-1", "Câu trả lời của cán bộ. " * 200))
    await sender.aclose()
    first, *rest = fake.bot_sent
    assert first == {"chat_id": "zb-user-1", "text": "Chọn một:\n\n1. Có\n2. Không"} or "1. Có" in first["text"]
    assert len(rest) == len(receipt.platform_message_ids) == 3 and all(len(p["text"]) <= 2000 for p in rest)


async def test_errors_are_classified(fake: FakeZalo) -> None:
    sender = ZaloBotSender("wrong-token", base_url=fake.bot_base_url)
    with pytest.raises(SendError) as err:
        await sender.send(OutboundMessage("zalobot", "u", "x"))
    assert err.value.reason == "auth_failed" and not err.value.retryable
    await sender.aclose()
    sender = ZaloBotSender(fake.bot_token, base_url=fake.bot_base_url)
    fake.fail(502)
    with pytest.raises(SendError) as err:
        await sender.send(OutboundMessage("zalobot", "u", "x"))
    assert err.value.reason == "server_error" and err.value.retryable
    await sender.aclose()
