"""TelegramSender against the fake Bot API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.base import SendError
from bot.messages import Button, OutboundMessage
from bot.telegram import TelegramSender
from tests.fakes.telegram_server import FakeTelegram, fake_telegram


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with fake_telegram() as f:
        yield f


async def test_text_with_buttons(fake: FakeTelegram) -> None:
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    receipt = await sender.send(
        OutboundMessage(
            "telegram",
            "42",
            "Ông/Bà có đồng ý không?",
            (Button("Đồng ý", "consent:named"), Button("Không", "consent:no")),
        )
    )
    await sender.aclose()
    (sent,) = fake.sent()
    assert sent["chat_id"] == "42" and sent["text"] == "Ông/Bà có đồng ý không?"
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in keyboard] == [["consent:named"], ["consent:no"]]
    assert len(receipt.platform_message_ids) == 1


async def test_long_text_is_split_at_4096_on_sentence_boundaries(fake: FakeTelegram) -> None:
    sentence = "Phản ánh của Ông/Bà đã được chuyển tới Ủy ban Mặt trận. "
    text = sentence * 200  # about 11,000 characters
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    receipt = await sender.send(OutboundMessage("telegram", "42", text))
    await sender.aclose()
    parts = [c["text"] for c in fake.sent()]
    assert len(parts) == len(receipt.platform_message_ids) == 3
    assert all(len(p) <= 4096 and p.endswith(".") for p in parts)
    assert " ".join(parts) == text.strip()


async def test_flood_limit_becomes_a_retryable_error_with_retry_after(fake: FakeTelegram) -> None:
    fake.fail("sendMessage", 429, retry_after=7)
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    with pytest.raises(SendError) as exc:
        await sender.send(OutboundMessage("telegram", "42", "xin chào"))
    assert (exc.value.reason, exc.value.retryable, exc.value.retry_after) == ("rate_limited", True, 7.0)
    fake.fail("sendMessage", 403)
    with pytest.raises(SendError) as exc:
        await sender.send(OutboundMessage("telegram", "42", "xin chào"))
    assert (exc.value.reason, exc.value.retryable) == ("blocked", False)
    fake.fail("sendMessage", 502)
    with pytest.raises(SendError) as exc:
        await sender.send(OutboundMessage("telegram", "42", "xin chào"))
    assert exc.value.retryable
    await sender.aclose()


async def test_callback_queries_are_answered(fake: FakeTelegram) -> None:
    sender = TelegramSender(fake.token, base_url=fake.base_url)
    await sender.answer_callback("cbq-1")
    await sender.aclose()
    assert fake.sent("answerCallbackQuery") == [{"callback_query_id": "cbq-1"}]
