"""One Zalo OA webhook fixture per event type, each with its exact normalised outcome; negatives are ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.zalo import parse_event

FIXTURES = sorted((Path(__file__).parents[2] / "fixtures" / "zalo").glob("*.json"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture(path: Path) -> None:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    expect = case["expect"]
    result = parse_event(case["payload"])
    assert result.outcome == expect["outcome"]
    if "message" in expect and expect["message"] is None:
        assert result.message is None
        return
    msg = result.message
    assert msg is not None and msg.channel == "zalo" and msg.kind == expect["kind"]
    assert msg.user_id == msg.chat_id == "8291700012345678901"
    assert msg.platform_message_id
    for field in ("text", "platform_message_id"):
        if field in expect:
            assert getattr(msg, field) == expect[field]
    if "attachment_url" in expect:
        assert msg.attachments[0].url == expect["attachment_url"]
    if "location" in expect:
        assert msg.location is not None and [msg.location.latitude, msg.location.longitude] == expect["location"]


def test_every_event_type_is_present() -> None:
    names = {p.stem for p in FIXTURES}
    assert {
        "user_send_text",
        "user_send_image",
        "user_send_location",
        "user_send_file",
        "follow",
        "unfollow",
        "neg_unknown_event",
        "neg_missing_sender",
    } <= names


def test_follow_ids_are_stable_per_delivery() -> None:
    """A redelivered follow event must map to the same message id (so it is stored once)."""
    case = json.loads((FIXTURES[0].parent / "follow.json").read_text(encoding="utf-8"))
    a, b = parse_event(case["payload"]).message, parse_event(dict(case["payload"])).message
    assert a is not None and b is not None and a.platform_message_id == b.platform_message_id
    later = dict(case["payload"], timestamp="1795000099999")
    c = parse_event(later).message
    assert c is not None and c.platform_message_id != a.platform_message_id
