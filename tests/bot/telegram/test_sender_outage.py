"""Telegram unreachable: the sender connects lazily and reports a retryable error instead of crashing; polling
mode waits for Telegram to come up."""

from __future__ import annotations

import asyncio

import pytest

from bot.base import InboundResult, SendError
from bot.messages import OutboundMessage
from bot.telegram import TelegramSender
from bot.telegram.sender import poll_updates
from tests.fakes.outage import late_telegram


async def test_send_while_telegram_is_down_is_a_retryable_error_then_works() -> None:
    with late_telegram() as late:
        sender = TelegramSender(late.fake.token, base_url=late.base_url)
        msg = OutboundMessage(channel="telegram", chat_id="42", text="Xin chào Ông/Bà")
        with pytest.raises(SendError) as err:
            await sender.send(msg)
        assert err.value.retryable and err.value.reason == "network"
        await asyncio.to_thread(late.up)
        receipt = await sender.send(msg)
        assert receipt.platform_message_ids and len(late.fake.sent("getMe")) == 1
        assert [c["text"] for c in late.fake.sent()] == ["Xin chào Ông/Bà"]
        await sender.aclose()


async def test_polling_waits_for_telegram_to_come_up() -> None:
    with late_telegram() as late:
        sender = TelegramSender(late.fake.token, base_url=late.base_url)
        got: list[InboundResult] = []

        async def handle(result: InboundResult) -> None:
            got.append(result)

        polling = asyncio.create_task(poll_updates(sender, handle, max_rounds=1))
        await asyncio.sleep(0.3)
        assert not polling.done()  # still waiting, not crashed
        late.fake.updates.append(
            {
                "update_id": 7,
                "message": {
                    "message_id": 7,
                    "date": 1800000000,
                    "text": "xin chào",
                    "chat": {"id": 42, "type": "private"},
                    "from": {"id": 42, "is_bot": False, "first_name": "Hùng"},
                },
            }
        )
        await asyncio.to_thread(late.up)
        await asyncio.wait_for(polling, 30)
        assert [r.message.text for r in got if r.message] == ["xin chào"]
        await sender.aclose()


async def test_a_rejected_token_is_reported_without_the_token() -> None:
    with late_telegram() as late:
        await asyncio.to_thread(late.up)
        sender = TelegramSender("999:WRONG-secret-token", base_url=late.base_url)
        with pytest.raises(SendError) as err:
            await sender.send(OutboundMessage(channel="telegram", chat_id="42", text="Xin chào"))
        assert err.value.reason == "auth_failed" and "WRONG-secret" not in str(err.value)
        assert late.fake.sent() == []
        await sender.aclose()
