"""The backend asks a citizen to rate an answered ticket (``Conversation.on_ticket_answered``); a report the
citizen is writing at that moment is neither interrupted nor lost, whatever step it is at."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.messages import InboundMessage
from handlers.conversation import Conversation
from handlers.ports import CitizenRef
from tests.handlers.fakes import Clock, FakeTickets, KeywordParser, MemoryStates
from tests.handlers.test_conversation import TEXTS

CITIZEN = CitizenRef(1, "zalo", "u1")
KEY = "conv:zalo:u1"


def conversation() -> tuple[Conversation, FakeTickets, MemoryStates]:
    clock = Clock()
    tickets, states = FakeTickets(clock), MemoryStates()
    tickets.consent[1] = "named"
    return Conversation(KeywordParser(), tickets, states, TEXTS, clock=clock), tickets, states


def say(conv: Conversation, text: str, n: int) -> None:
    conv.handle(
        CITIZEN,
        InboundMessage(
            channel="zalo",
            platform_message_id=f"m{n}",
            user_id="u1",
            chat_id="u1",
            text=text,
            sent_at=datetime.now(UTC),
        ),
    )


def test_a_draft_kept_while_idle_is_not_wiped_by_the_rating_question() -> None:
    conv, tickets, states = conversation()
    say(conv, "Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", 1)
    say(conv, "1", 2)  # filed: PA-TEST-0001
    tickets.tickets["PA-TEST-0001"]["status"] = "da_tra_loi"
    before = states.load(KEY)
    assert before is not None
    before["draft"] = {"id": "d1", "text": "Cống ở ngõ 12 bị tắc", "attachments": [], "geo": None}
    before["name"] = "idle"  # a photo or a first line sent, nothing asked yet
    states.save(KEY, before, 3600)

    assert conv.on_ticket_answered(CITIZEN, "PA-TEST-0001") == []
    assert states.load(KEY) == before


def test_an_idle_citizen_is_asked_with_five_star_buttons() -> None:
    conv, tickets, states = conversation()
    say(conv, "Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", 1)
    say(conv, "1", 2)
    tickets.tickets["PA-TEST-0001"]["status"] = "da_tra_loi"
    (asked,) = conv.on_ticket_answered(CITIZEN, "PA-TEST-0001")
    assert [b.payload for b in asked.buttons] == [f"stars:{n}" for n in range(1, 6)]
    state = states.load(KEY)
    assert state is not None and state["name"] == "await_rating" and state["ticket"] == "PA-TEST-0001"


def test_a_new_report_instead_of_a_rating_is_not_swallowed() -> None:
    conv, tickets, states = conversation()
    say(conv, "Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", 1)
    say(conv, "1", 2)
    tickets.tickets["PA-TEST-0001"]["status"] = "da_tra_loi"
    conv.on_ticket_answered(CITIZEN, "PA-TEST-0001")
    say(conv, "Rác thải chất đống ở chợ Đồng Xuân phường Hoàn Kiếm", 3)  # ignores the question, reports anew
    state = states.load(KEY)
    assert state is not None and state["name"] != "await_rating"
    assert "chất đống" in str(state["draft"])  # a new report being written, not "choose 1 to 5 stars"
    assert tickets.tickets["PA-TEST-0001"]["rating"] is None
