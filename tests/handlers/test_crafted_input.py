"""Crafted input in a conversation: a button payload or a "number" nobody's keyboard makes must not break a turn."""

from __future__ import annotations

import pytest

from tests.handlers.test_conversation import Chat, chat  # noqa: F401  (the fixture)


def _awaiting_rating(chat: Chat) -> None:  # noqa: F811
    chat.tickets.consent[1] = "named"
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", "kiểm tra lại")
    chat.says("1", "PA-TEST-0001")
    chat.tickets.tickets["PA-TEST-0001"]["status"] = "da_tra_loi"
    chat.conv.on_ticket_answered(chat.citizen, "PA-TEST-0001")
    assert chat.state == "await_rating"


@pytest.mark.parametrize("payload", ["stars:abc", "stars:99", "stars:", "stars:-1", "stars:²", "stars:0"])
def test_a_crafted_stars_payload_asks_again(chat: Chat, payload: str) -> None:  # noqa: F811
    _awaiting_rating(chat)
    out = chat.send("", kind="button", payload=payload)
    assert out and chat.state == "await_rating"
    assert chat.tickets.tickets["PA-TEST-0001"]["rating"] is None
    chat.says("4", "góp ý thêm")


@pytest.mark.parametrize("digit", ["①", "²", "³", "𝟙"])
def test_unicode_digits_where_a_choice_number_is_expected(chat: Chat, digit: str) -> None:  # noqa: F811
    chat.says("xin chào")
    out = chat.send(digit)
    assert out
