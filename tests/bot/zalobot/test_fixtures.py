"""One Zalo Bot platform update fixture per event type; negatives are ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.zalobot import parse_update, verify_secret

FIXTURES = sorted((Path(__file__).parents[2] / "fixtures" / "zalobot").glob("*.json"))


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
    assert msg is not None and msg.channel == "zalobot" and msg.kind == expect["kind"]
    assert msg.user_id == msg.chat_id == "zb-user-1" and msg.display_name == "Trần Văn Bình"
    if "text" in expect:
        assert msg.text == expect["text"]
    if "attachment_url" in expect:
        assert msg.attachments[0].url == expect["attachment_url"]


def test_milliseconds_dates_are_understood() -> None:
    case = json.loads((FIXTURES[0].parent / "text.json").read_text(encoding="utf-8"))
    msg = parse_update(case["payload"]).message
    assert msg is not None and msg.sent_at.year == 2026


@pytest.mark.parametrize(("header", "ok"), [("Zb-secret-1", True), ("zb-secret-1", False), ("", False), (None, False)])
def test_secret_is_compared_exactly(header: str | None, ok: bool) -> None:
    assert verify_secret(header, "Zb-secret-1") is ok
    assert verify_secret(header, "") is False
