"""One Telegram update fixture per event kind, each with its exact normalised outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.telegram import parse_update, verify_secret

FIXTURES = sorted((Path(__file__).parents[2] / "fixtures" / "telegram").glob("*.json"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture(path: Path) -> None:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    expect = case["expect"]
    result = parse_update(case["payload"])
    assert result.outcome == expect["outcome"]
    if "message" in expect and expect["message"] is None:
        assert result.message is None
        return
    msg = result.message
    assert msg is not None and msg.channel == "telegram" and msg.kind == expect["kind"]
    assert msg.user_id == "88001" and msg.chat_id == "88001"
    for field in ("text", "payload", "platform_message_id", "contact_phone"):
        if field in expect:
            assert getattr(msg, field) == expect[field]
    if "attachment" in expect:
        assert msg.attachments[0].platform_file_id == expect["attachment"]
    if "location" in expect:
        assert msg.location is not None and [msg.location.latitude, msg.location.longitude] == expect["location"]
    if "callback_query_id" in expect:
        assert result.callback_query_id == expect["callback_query_id"]


def test_every_fixture_kind_is_present() -> None:
    names = {p.stem for p in FIXTURES}
    assert {
        "text",
        "start_command",
        "photo",
        "location",
        "contact",
        "callback_query",
        "edited_message",
        "sticker",
        "channel_post",
        "group_message",
        "unknown_update",
    } <= names


@pytest.mark.parametrize(
    ("header", "ok"),
    [("s3cret-Token_1", True), ("s3cret-token_1", False), ("", False), (None, False), ("s3cret-Token_1 ", False)],
)
def test_secret_is_compared_exactly(header: str | None, ok: bool) -> None:
    assert verify_secret(header, "s3cret-Token_1") is ok
    assert verify_secret(header, "") is False
