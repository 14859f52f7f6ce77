"""The typed draft and the flows' context: drafts survive the state store (also drafts saved before the types), and
a flow hands back a message that is not its own instead of calling into the conversation."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.messages import Attachment, GeoPoint, InboundMessage
from handlers.context import FlowContext
from handlers.draft import Draft
from handlers.feedback import FeedbackFlow
from handlers.ports import CitizenRef
from handlers.state import State
from handlers.tickets_flow import TicketsFlow
from nlu.result import Label, Location, ParseResult
from tests.handlers.fakes import Clock, FakeTickets, KeywordParser
from tests.handlers.test_conversation import TEXTS, Chat, chat  # noqa: F401 (the fixture)

CITIZEN = CitizenRef(1, "zalo", "u1")


def message(text: str = "", **kw: object) -> InboundMessage:
    return InboundMessage(channel="zalo", platform_message_id="m", user_id="u1", chat_id="u1", text=text, **kw)  # type: ignore[arg-type]


def test_a_draft_is_built_from_typed_parses_and_survives_the_state_store() -> None:
    first = ParseResult(
        "Đèn đường hỏng, gọi 0912345678",
        Label("gui_phan_anh", 0.9),
        category=Label("ha_tang", 0.5),
        category_ranking=(Label("ha_tang", 0.5), Label("moi_truong", 0.2)),
    )
    draft = Draft.begin(first.text, first)
    assert (draft.category, draft.ranking, draft.location_text) == ("ha_tang", ["ha_tang", "moi_truong"], None)
    place = ParseResult("phường Hoàn Kiếm", Label("gui_phan_anh", 0.6), location=Location(None, "01", None, "00070"))
    assert draft.append_text(place.text) and draft.apply_location(place.location)
    assert not draft.apply_location(Location())  # nothing found: nothing changes
    photo = Attachment("image", url="https://x/1.jpg")
    draft.add_attachments(message(attachments=(photo,), location=GeoPoint(21, 105)))
    state = State("await_confirm", draft)
    back = State.from_dict(state.to_dict())
    assert back.draft == draft and back.draft is not None and back.draft.nlu == first
    filed = back.draft.to_ticket_draft(anonymous=True)
    assert (filed.commune_code, filed.phone, filed.geo, filed.draft_id) == ("00070", None, GeoPoint(21, 105), draft.id)
    assert filed.nlu == first.to_dict() and filed.attachments == [photo]


def test_a_draft_saved_before_the_types_is_still_sent(chat: Chat) -> None:  # noqa: F811
    """A conversation state written by the dict-based version (kept 24 h in Redis) reads back after an upgrade."""
    chat.tickets.consent[1] = "named"
    old = {
        "name": "await_confirm",
        "draft": {
            "id": "abc123",
            "text": "Rác chất đống ở chợ",
            "attachments": [{"kind": "image", "url": None, "platform_file_id": "f1", "name": None, "size": None}],
            "geo": {"latitude": 21.03, "longitude": 105.85},
            "phone": "0912345678",
            "asked": ["location"],
            "nlu": {"text": "Rác chất đống ở chợ", "intent": {"name": "gui_phan_anh", "confidence": 0.9}},
            "intent_confidence": 0.9,
            "category": "moi_truong",
            "category_confidence": 0.9,
            "ranking": ["moi_truong"],
            "urgent": False,
            "province_code": "01",
            "commune_code": "00070",
            "candidates": [],
            "location_text": "chợ",
        },
        "draft_started": chat.clock().isoformat(),
        "offered": ["confirm:send", "confirm:edit", "confirm:cancel"],
        "ticket": None,
        "data": {},
        "recent": [],
    }
    chat.conv.states.save("conv:zalo:u1", old, 60)
    chat.says("1", "PA-TEST-0001")
    (filed,) = chat.tickets.filed
    assert (filed.draft_id, filed.category, filed.commune_code, filed.phone) == (
        "abc123",
        "moi_truong",
        "00070",
        "0912345678",
    )
    assert filed.attachments == [Attachment("image", platform_file_id="f1")] and filed.geo == GeoPoint(21.03, 105.85)
    assert filed.nlu["intent"]["name"] == "gui_phan_anh"


def test_a_flow_hands_back_what_is_not_its_own() -> None:
    """The flows get a context, not the conversation; a message they cannot use comes back as ``None``."""
    ctx = FlowContext(KeywordParser(), FakeTickets(Clock()), TEXTS, ZoneInfo("Asia/Ho_Chi_Minh"))
    feedback, tickets = FeedbackFlow(ctx), TicketsFlow(ctx)
    state = State("await_location", Draft(text="Đèn đường hỏng", asked=["location"]))
    now = Clock()()
    assert feedback.on_location(CITIZEN, state, message("tra cứu tình trạng"), now) is None
    assert state.name == "idle" and state.draft is not None  # the draft is kept for later
    state = State("await_ticket")
    assert tickets.on_ticket(CITIZEN, state, message("hướng dẫn")) is None and state.name == "idle"


def test_the_conversation_answers_what_a_flow_handed_back(chat: Chat) -> None:  # noqa: F811
    chat.tickets.consent[1] = "named"
    chat.says("Đèn đường hỏng cả tháng nay", "ở đâu")
    assert chat.state == "await_location"
    # a status question while asked for the place: answered as such, the draft kept
    chat.says("tra cứu tình trạng", "chưa gửi phản ánh nào")
    assert chat.state == "idle"
    assert (chat.conv.states.load("conv:zalo:u1") or {})["draft"]["text"] == "Đèn đường hỏng cả tháng nay"
