"""Whole conversations as scripts against in-memory fakes of the ports (milliseconds each).

Each step is what the citizen sends and a fragment the bot must answer with; buttons are pressed by typing their
number, the way a Zalo citizen answers a numbered menu.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from backend.config import PROJECT_ROOT
from bot.messages import GeoPoint, InboundMessage
from handlers.conversation import Conversation
from handlers.ports import CitizenRef, Reply
from handlers.texts import Texts
from tests.handlers.fakes import Clock, FakeTickets, KeywordParser, MemoryStates

TEXTS = Texts.load(PROJECT_ROOT / "data" / "templates" / "vi.yml")


@dataclass
class Chat:
    conv: Conversation
    tickets: FakeTickets
    clock: Clock
    citizen: CitizenRef = field(default_factory=lambda: CitizenRef(1, "zalo", "u1"))
    n: int = 0
    transcript: list[tuple[str, list[Reply]]] = field(default_factory=list)

    def send(self, text: str = "", **kw: object) -> list[Reply]:
        self.n += 1
        msg = InboundMessage(
            channel="zalo",
            platform_message_id=f"m{self.n}",
            user_id=self.citizen.user_id,
            chat_id=self.citizen.user_id,
            text=text,
            **kw,
        )  # type: ignore[arg-type]
        out = self.conv.handle(self.citizen, msg)
        self.transcript.append((text, out))
        return out

    def says(self, text: str, *fragments: str, **kw: object) -> list[Reply]:
        out = self.send(text, **kw)
        joined = "\n".join(r.text for r in out)
        for f in fragments:
            assert f in joined, f"{text!r} → {joined!r} lacks {f!r}"
        for r in out:  # every reply is rendered Vietnamese, never a raw template key or placeholder
            assert r.text and "{" not in r.text and "_" not in r.text.split()[0]
        return out

    @property
    def state(self) -> str:
        raw = self.conv.states.load(f"conv:{self.citizen.channel}:{self.citizen.user_id}") or {}
        return str(raw.get("name", "idle"))


@pytest.fixture
def chat() -> Iterator[Chat]:
    clock = Clock()
    tickets = FakeTickets(clock)
    conv = Conversation(KeywordParser(), tickets, MemoryStates(), TEXTS, clock=clock, chitchat_per_minute=3)
    yield Chat(conv, tickets, clock)


def test_first_report_asks_consent_then_files_with_the_commune(chat: Chat) -> None:
    chat.says("xin chào", "13/2023")
    chat.says("1", "Cảm ơn")  # consent given (named)
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị sụt lún, xe máy ngã liên tục", "kiểm tra lại", "Hoàn Kiếm")
    filed = chat.says("1", "PA-TEST-0001")
    assert "Phường Hoàn Kiếm" in filed[-1].text
    (draft,) = chat.tickets.filed
    assert draft.commune_code == "00070" and draft.province_code == "01" and draft.category == "ha_tang"
    assert not draft.anonymous and chat.state == "idle"


def test_report_before_consent_is_kept_and_continues_after_consent(chat: Chat) -> None:
    chat.says("Rác thải đổ trộm bốc mùi ở phường Hoàn Kiếm Hà Nội", "13/2023")
    chat.says("2", "kiểm tra lại")  # anonymous: the draft written before consent is not lost
    chat.says("gửi", "PA-TEST-0001")
    assert chat.tickets.filed[0].anonymous and chat.tickets.filed[0].category == "moi_truong"


def test_declined_consent_files_nothing(chat: Chat) -> None:
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội hỏng nặng", "13/2023")
    chat.says("3")
    assert chat.tickets.filed == [] and chat.state == "idle"


def test_missing_place_is_asked_for_and_old_addresses_are_understood(chat: Chat) -> None:
    chat.tickets.consent[1] = "named"
    chat.says("Đèn đường trước nhà tôi hỏng cả tháng nay không ai sửa", "Sự việc xảy ra ở đâu")
    assert chat.state == "await_location"
    chat.says("phường Bến Nghé, quận 1, TP HCM", "kiểm tra lại", "Phường Sài Gòn")
    chat.says("có", "PA-TEST-0001")
    assert chat.tickets.filed[0].commune_code == "26740"


def test_ambiguous_commune_offers_choices_and_a_location_pin_works(chat: Chat) -> None:
    chat.tickets.consent[1] = "named"
    out = chat.says("rác thải bốc mùi ở xã Tân Phú", "nhiều xã/phường")
    assert len(out[-1].buttons) >= 3 and chat.state == "await_commune"
    chat.says("1", "kiểm tra lại")
    chat.says("1", "PA-TEST-0001")
    assert chat.tickets.filed[0].commune_code == out[-1].buttons[0].payload.removeprefix("commune:")
    chat.says("Cống thoát nước bị tắc", "Sự việc xảy ra ở đâu")
    chat.says("", "kiểm tra lại", kind="location", location=GeoPoint(21.0285, 105.8542))
    chat.says("1", "PA-TEST-0002")
    assert chat.tickets.filed[1].geo == GeoPoint(21.0285, 105.8542)


def test_unsure_category_is_asked_with_numbered_choices(chat: Chat) -> None:
    chat.tickets.consent[1] = "named"
    chat.says("hình như đường ở phường Hoàn Kiếm, Hà Nội có vấn đề", "lĩnh vực nào")
    assert chat.state == "await_category"
    chat.says("1", "kiểm tra lại", "Hạ tầng")
    chat.says("1", "PA-TEST-0001")
    assert chat.tickets.filed[0].category == "ha_tang" and chat.tickets.filed[0].category_confidence == 1.0


def test_urgent_report_is_filed_at_once_even_without_consent(chat: Chat) -> None:
    out = chat.says("Cứu với, lũ đang lên ngập nhà ở phường Hoàn Kiếm, Hà Nội", "PA-TEST-0001", "113", "115")
    assert len(chat.tickets.filed) == 1 and chat.tickets.filed[0].urgent
    assert any("13/2023" in r.text or "khẩn" in r.text.lower() for r in out)


def test_cancel_mid_report_and_edit_before_sending(chat: Chat) -> None:
    chat.tickets.consent[1] = "named"
    chat.says("Đèn đường hỏng", "Sự việc xảy ra ở đâu")
    chat.says("thôi", "Đã hủy")
    assert chat.state == "idle" and chat.tickets.filed == []
    chat.says("thôi", "không có việc gì")
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", "kiểm tra lại")
    chat.says("2")  # edit
    assert chat.state == "await_edit"
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập sâu 50cm, cống tắc", "kiểm tra lại", "50cm")
    chat.says("1", "PA-TEST-0001")
    assert "50cm" in chat.tickets.filed[0].text


def test_an_abandoned_draft_expires_after_a_day(chat: Chat) -> None:
    chat.tickets.consent[1] = "named"
    chat.says("Đèn đường hỏng", "Sự việc xảy ra ở đâu")
    chat.clock.advance(hours=25)
    chat.says("xin chào", "24 giờ")
    assert chat.tickets.filed == []


def test_status_only_for_ones_own_tickets(chat: Chat) -> None:
    chat.tickets.consent[1] = "named"
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", "kiểm tra lại")
    chat.says("1", "PA-TEST-0001")
    chat.says("PA-TEST-0001", "PA-TEST-0001", "Phường Hoàn Kiếm")
    chat.says("phản ánh của tôi đến đâu rồi", "PA-TEST-0001")
    other = Chat(chat.conv, chat.tickets, chat.clock, CitizenRef(2, "zalo", "u2"))
    out = other.says("PA-TEST-0001")
    assert "Phường Hoàn Kiếm" not in "\n".join(r.text for r in out)


def test_add_information_and_withdraw(chat: Chat) -> None:
    chat.tickets.consent[1] = "named"
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", "kiểm tra lại")
    chat.says("1", "PA-TEST-0001")
    chat.says("tôi muốn bổ sung thông tin")
    chat.says("Nước ngập đến đầu gối, xe chết máy")
    assert chat.tickets.tickets["PA-TEST-0001"]["info"]
    chat.says("tôi muốn rút đơn")
    chat.says("đã tự giải quyết xong", "Đã rút")
    assert chat.tickets.tickets["PA-TEST-0001"]["status"] == "tu_choi"


def test_rating_after_an_answer_and_a_low_rating_asks_why(chat: Chat) -> None:
    chat.tickets.consent[1] = "named"
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", "kiểm tra lại")
    chat.says("1", "PA-TEST-0001")
    chat.tickets.tickets["PA-TEST-0001"]["status"] = "da_tra_loi"
    asked = chat.conv.on_ticket_answered(chat.citizen, "PA-TEST-0001")
    assert "1 đến 5 sao" in asked[0].text and chat.state == "await_rating"
    chat.says("2", "góp ý thêm")
    chat.says("Xử lý chậm, không ai gọi lại", "2/5")
    assert chat.tickets.tickets["PA-TEST-0001"]["rating"] == (2, "Xử lý chậm, không ai gọi lại")


def test_chitchat_is_answered_then_rate_limited(chat: Chat) -> None:
    chat.tickets.consent[1] = "named"
    for _ in range(3):
        chat.says("hihi", "kênh tiếp nhận")
    chat.says("hihi", "hơi nhanh")
    assert chat.send("hihi") == []  # already told: stay quiet


def test_stickers_and_follow_events(chat: Chat) -> None:
    chat.says("", "chưa đọc được", kind="unsupported")
    chat.says("", "13/2023", kind="follow")
    assert chat.send("", kind="unfollow") == [] and chat.state == "idle"


def test_every_transition_taken_is_declared(chat: Chat) -> None:
    """``goto`` raises on an undeclared transition; a long mixed script must never trip it."""
    chat.says("xin chào")
    chat.says("1")
    for text in (
        "Đèn đường hỏng",
        "phường Hoàn Kiếm Hà Nội",
        "2",
        "Cống tắc ở phường Hoàn Kiếm, Hà Nội",
        "1",
        "PA-TEST-0001",
        "tôi muốn rút đơn",
        "không có lý do",
        "hướng dẫn",
        "cảm ơn",
    ):
        chat.send(text)
    assert len(chat.tickets.filed) == 1


def test_typing_a_buttons_title_works_like_pressing_it(chat: Chat) -> None:
    """Citizens often type the button's words instead of tapping: any case, with or without diacritics."""
    chat.tickets.consent[1] = "named"
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", "kiểm tra lại")
    chat.says("sửa nội dung")
    assert chat.state == "await_edit"
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập sâu 50cm", "kiểm tra lại", "50cm")
    chat.says("GUI PHAN ANH", "PA-TEST-0001")
    assert len(chat.tickets.filed) == 1 and "50cm" in chat.tickets.filed[0].text
    assert "gui phan anh" not in chat.tickets.filed[0].text.lower()


def test_typing_the_send_title_does_not_grow_the_petition(chat: Chat) -> None:
    chat.tickets.consent[1] = "named"
    chat.says("Đèn đường ở phường Hoàn Kiếm, Hà Nội hỏng cả tuần", "kiểm tra lại")
    chat.says("Gửi phản ánh.", "PA-TEST-0001")
    assert chat.tickets.filed[0].text == "Đèn đường ở phường Hoàn Kiếm, Hà Nội hỏng cả tuần"
