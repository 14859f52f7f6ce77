"""A Telegram reply keeps the id of the message it answers (officials answer notifications by replying to them)."""

from __future__ import annotations

from typing import Any

from bot.telegram.inbound import parse_update


def _update(extra: dict[str, Any]) -> dict[str, Any]:
    message = {
        "message_id": 12,
        "date": 1800000000,
        "text": "Đã cử người xử lý",
        "chat": {"id": 55, "type": "private"},
        "from": {"id": 55, "is_bot": False, "first_name": "An"},
        **extra,
    }
    return {"update_id": 1, "message": message}


def test_a_reply_carries_the_answered_message_id() -> None:
    answered = {"message_id": 7, "date": 1800000000, "chat": {"id": 55, "type": "private"}, "text": "PA-…"}
    result = parse_update(_update({"reply_to_message": answered}))
    assert result.message is not None and result.message.reply_to == "7"
    assert result.message.text == "Đã cử người xử lý"


def test_a_plain_message_has_no_reply_to() -> None:
    result = parse_update(_update({}))
    assert result.message is not None and result.message.reply_to is None


def test_a_malformed_reply_id_is_dropped_and_the_text_kept() -> None:
    answered = {"message_id": "x", "date": 1, "chat": {"id": 55, "type": "private"}}
    result = parse_update(_update({"reply_to_message": answered}))
    assert result.outcome == "accepted"
    assert result.message is not None and result.message.reply_to is None and result.message.text == "Đã cử người xử lý"
