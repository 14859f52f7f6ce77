"""Buttons Telegram cannot carry (callback data over 64 bytes) become a numbered list under the text, with the hint
the backend gives the sender (the ``menu_hint`` reply template), not a text written into the adapter."""

from __future__ import annotations

from bot.messages import Button, OutboundMessage
from bot.telegram import TelegramSender
from tests.fakes.telegram_server import fake_telegram


async def test_a_numbered_menu_ends_with_the_given_hint() -> None:
    with fake_telegram() as fake:
        sender = TelegramSender(fake.token, base_url=fake.base_url)
        sender.menu_hint = "Mời Ông/Bà nhắn số của lựa chọn."
        long = "commune:" + "9" * 70  # too long for callback data
        await sender.send(
            OutboundMessage("telegram", "42", "Ông/Bà ở xã nào?", (Button("Xã A", long), Button("Xã B", long)))
        )
        await sender.aclose()
        (sent,) = fake.sent()
    assert sent["text"] == "Ông/Bà ở xã nào?\n\n1. Xã A\n2. Xã B\nMời Ông/Bà nhắn số của lựa chọn."
    assert "reply_markup" not in sent or not sent["reply_markup"]
