"""A plain private text update is read straight from the JSON (issue 16: the webhook's largest cost was building
python-telegram-bot's objects): the result must be exactly the one the full way gives, for every fixture and for
odd variants, which must take the full way."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from bot.base import InboundResult
from bot.telegram.inbound import _plain_text, parse_update, parse_with_objects

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "telegram"
TEXT = json.loads((FIXTURES / "text.json").read_text(encoding="utf-8"))["payload"]


def same(a: InboundResult, b: InboundResult) -> bool:
    """Equal, but for a send time taken as "now" (a date out of range) a moment apart."""
    if a.message is None or b.message is None:
        return a == b
    if abs((a.message.sent_at - b.message.sent_at).total_seconds()) > 5:
        return False
    return a == dataclasses.replace(b, message=dataclasses.replace(b.message, sent_at=a.message.sent_at))


def variant(change: Any) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(TEXT)
    change(data)
    return data


VARIANTS = {
    "as is": variant(lambda d: None),
    "no last name": variant(lambda d: d["message"]["from"].pop("last_name", None)),
    "empty first name": variant(lambda d: d["message"]["from"].update(first_name="")),
    "long name": variant(lambda d: d["message"]["from"].update(first_name="Nguyễn " * 40)),
    "group chat": variant(lambda d: d["message"]["chat"].update(type="group")),
    "reply": variant(lambda d: d["message"].update(reply_to_message=copy.deepcopy(d["message"]))),
    "text not a string": variant(lambda d: d["message"].update(text=5)),
    "no sender": variant(lambda d: d["message"].pop("from")),
    "bool chat id": variant(lambda d: d["message"]["chat"].update(id=True)),
    "odd date": variant(lambda d: d["message"].update(date="x")),
    "name not a string": variant(lambda d: d["message"]["from"].update(first_name=["a"])),
    "extra field": variant(lambda d: d["message"].update(entities=[{"type": "bold", "offset": 0, "length": 1}])),
}


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_fixture_parses_as_through_the_library(name: str) -> None:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))["payload"]
    assert same(parse_update(data), parse_with_objects(data))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_parse_as_through_the_library(name: str) -> None:
    assert same(parse_update(VARIANTS[name]), parse_with_objects(VARIANTS[name]))


def test_the_plain_text_fixture_takes_the_fast_way_and_odd_ones_do_not() -> None:
    assert _plain_text(TEXT) is not None
    for name in ("group chat", "reply", "text not a string", "no sender", "extra field", "odd date"):
        assert _plain_text(VARIANTS[name]) is None, name
