"""What each conversation turn belongs to (draft, ticket or nothing), repeated "send", long drafts, filing limits.

The backend links every message to the draft it built and then to the ticket, so a ticket's page shows only its own
messages; these scripts check the links the conversation reports, turn by turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.messages import InboundMessage
from handlers.conversation import Conversation
from handlers.ports import CitizenRef, TicketDraft, Turn
from nlu.vocab import MAX_TEXT
from tests.handlers.fakes import Clock, FakeTickets, KeywordParser, MemoryStates
from tests.handlers.test_conversation import TEXTS


class Script:
    def __init__(self) -> None:
        self.clock = Clock()
        self.tickets = FakeTickets(self.clock)
        self.conv = Conversation(KeywordParser(), self.tickets, MemoryStates(), TEXTS, clock=self.clock)
        self.citizen = CitizenRef(1, "zalo", "u1")
        self.n = 0

    def turn(self, text: str = "", **kw: Any) -> Turn:
        self.n += 1
        msg = InboundMessage(
            channel="zalo", platform_message_id=f"m{self.n}", user_id="u1", chat_id="u1", text=text, **kw
        )
        return self.conv.turn(self.citizen, msg)

    def said(self, turn: Turn) -> str:
        return "\n".join(r.text for r in turn.replies)

    @property
    def state(self) -> str:
        return str((self.conv.states.load("conv:zalo:u1") or {}).get("name", "idle"))


@pytest.fixture
def script() -> Iterator[Script]:
    yield Script()


def test_each_turn_names_its_draft_or_ticket_and_small_talk_names_nothing(script: Script) -> None:
    hello = script.turn("xin chào")
    assert (hello.draft_id, hello.ticket_code) == (None, None)
    script.turn("1")  # consent, with no report yet: belongs to nothing
    report = script.turn("Đèn đường hỏng cả tháng nay")
    assert report.draft_id and report.ticket_code is None and script.state == "await_location"
    place = script.turn("phường Hoàn Kiếm, Hà Nội")
    assert place.draft_id == report.draft_id and "kiểm tra lại" in script.said(place)
    filed = script.turn("1")
    assert (filed.draft_id, filed.ticket_code) == (report.draft_id, "PA-TEST-0001")
    assert script.tickets.filed[0].draft_id == report.draft_id  # the idempotency key reaches the backend
    for small_talk in ("hướng dẫn", "cảm ơn", "hihi"):
        t = script.turn(small_talk)
        assert (t.draft_id, t.ticket_code) == (None, None), small_talk
    status = script.turn("PA-TEST-0001")
    assert (status.draft_id, status.ticket_code) == (None, "PA-TEST-0001")
    unknown = script.turn("PA-ZZZZ-9999")  # not theirs / unknown: linked to nothing
    assert unknown.ticket_code is None
    assert script.turn("tôi muốn bổ sung thông tin").ticket_code == "PA-TEST-0001"
    assert script.turn("Nước ngập đến đầu gối").ticket_code == "PA-TEST-0001"
    script.tickets.handoff[1] = "PA-TEST-0001"  # an official answered: free text goes to that ticket
    assert script.turn("Tôi gửi thêm: cống ở đầu ngõ").ticket_code == "PA-TEST-0001"
    script.tickets.handoff.clear()
    second = script.turn("Cống tắc ở phường Hoàn Kiếm, Hà Nội")
    assert second.draft_id and second.draft_id != report.draft_id


def test_an_edited_draft_keeps_its_id(script: Script) -> None:
    script.tickets.consent[1] = "named"
    first = script.turn("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập")
    script.turn("2")
    edited = script.turn("Đường ở phường Hoàn Kiếm, Hà Nội ngập sâu 50cm")
    filed = script.turn("1")
    assert first.draft_id == edited.draft_id == filed.draft_id and filed.ticket_code == "PA-TEST-0001"


def test_rating_turns_belong_to_the_rated_ticket(script: Script) -> None:
    script.tickets.consent[1] = "named"
    script.turn("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập")
    script.turn("1")
    script.tickets.tickets["PA-TEST-0001"]["status"] = "da_tra_loi"
    assert script.turn("tôi muốn đánh giá").ticket_code == "PA-TEST-0001"
    assert script.turn("2").ticket_code == "PA-TEST-0001"
    assert script.turn("chậm quá").ticket_code == "PA-TEST-0001"


@pytest.mark.parametrize("again", [{"text": "gửi"}, {"kind": "button", "payload": "confirm:send"}])
def test_sending_twice_files_once_and_repeats_the_code(script: Script, again: dict[str, Any]) -> None:
    script.tickets.consent[1] = "named"
    script.turn("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập")
    first = script.turn(**again)
    second = script.turn(**again)
    assert "PA-TEST-0001" in script.said(first) and len(script.tickets.tickets) == 1
    assert "đã được gửi" in script.said(second) and "PA-TEST-0001" in script.said(second)
    assert second.ticket_code == "PA-TEST-0001" and second.draft_id == first.draft_id
    script.clock.advance(hours=1)  # much later, "gửi" is just a word again
    assert "PA-TEST-0001" not in script.said(script.turn(**again))


def test_a_concurrent_second_filing_is_told_it_was_already_sent(script: Script) -> None:
    script.tickets.consent[1] = "named"
    report = script.turn("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập")
    assert report.draft_id
    script.tickets.by_draft[report.draft_id] = "PA-TEST-0009"  # another request filed this draft meanwhile
    script.tickets.tickets["PA-TEST-0009"] = {
        "owner": 1,
        "status": "moi",
        "draft": TicketDraft(text="Đường bị ngập", category="ha_tang"),
        "unit": "Phường Hoàn Kiếm",
        "created": script.clock(),
        "updated": script.clock(),
        "info": [],
        "rating": None,
    }
    out = script.turn("1")
    assert "đã được gửi" in script.said(out) and "PA-TEST-0009" in script.said(out)


def test_a_draft_cannot_grow_past_the_ticket_limit_and_the_citizen_is_told(script: Script) -> None:
    script.tickets.consent[1] = "named"
    script.turn("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập nặng")
    piece = "Nước ngập sâu, xe chết máy hàng loạt, người dân phải lội. " * 30  # ~1,700 characters
    told = []
    for _ in range(4):
        told.append("giới hạn" in script.said(script.turn(piece.strip())))
    assert told == [False, False, True, True]  # the third piece would pass 4,000: not added, and said so
    assert script.state == "await_confirm"
    script.turn("1")
    (draft,) = script.tickets.filed
    assert len(draft.text) <= MAX_TEXT and draft.text.count("Nước ngập sâu") == 60


def test_a_first_message_longer_than_the_limit_is_cut_and_the_citizen_is_told(script: Script) -> None:
    script.tickets.consent[1] = "named"
    out = script.turn("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập. " + "x" * MAX_TEXT)
    assert "giới hạn" in script.said(out)
    script.turn("1")
    assert len(script.tickets.filed[0].text) == MAX_TEXT


def test_over_the_hourly_ticket_limit_the_citizen_is_asked_to_wait(script: Script) -> None:
    script.tickets.consent[1] = "named"
    script.tickets.wait_seconds = 1500
    script.turn("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập")
    out = script.turn("1")
    assert "25 phút" in script.said(out) and script.tickets.tickets == {}
    assert script.state == "await_confirm"  # the draft is kept: "send" again later
    script.tickets.wait_seconds = None
    assert "PA-TEST-0001" in script.said(script.turn("1"))


def test_the_ticket_text_limit_is_one_limit(script: Script) -> None:
    """The chat, the JSON API and the console share the vocabulary's limit; no setting can set them apart."""
    from backend.api.schemas import MAX_TEXT as API_MAX_TEXT
    from backend.config import Settings
    from nlu import vocab

    assert MAX_TEXT == API_MAX_TEXT == vocab.MAX_TEXT == 4000
    assert not any("text_length" in name for name in Settings.model_fields)
