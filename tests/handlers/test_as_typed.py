"""The conversation as people really type it (issue #12): close categories asked, stale buttons, answers to an
official's request for more information, the place asked and fixed, the channel's own capabilities, the privacy
notice once. Each script runs with and without diacritics where the citizen types."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.messages import GeoPoint
from handlers.conversation import Conversation
from handlers.ports import CitizenRef
from tests.handlers.fakes import Clock, CloseCallParser, FakeTickets, MemoryStates
from tests.handlers.test_conversation import TEXTS, Chat

HOAN_KIEM, HA_NOI = "00070", "01"


def _chat(channel: str = "zalo") -> Chat:
    clock = Clock()
    tickets = FakeTickets(clock)
    conv = Conversation(CloseCallParser(), tickets, MemoryStates(), TEXTS, clock=clock, chitchat_per_minute=3)
    return Chat(conv, tickets, clock, citizen=CitizenRef(1, channel, "u1"))


@pytest.fixture
def chat() -> Iterator[Chat]:
    chat = _chat()
    chat.tickets.consent[1] = "named"
    yield chat


@pytest.fixture
def web() -> Iterator[Chat]:
    chat = _chat("webchat")
    chat.tickets.consent[1] = "named"
    yield chat


def titles(replies: list) -> list[str]:  # type: ignore[type-arg]
    return [b.title for r in replies for b in r.buttons]


def payloads(replies: list) -> list[str]:  # type: ignore[type-arg]
    return [b.payload for r in replies for b in r.buttons]


def _filed(chat: Chat, text: str = "Đường ở phường Hoàn Kiếm, Hà Nội bị sụt lún, xe máy ngã liên tục") -> str:
    chat.says(text, "kiểm tra lại")
    out = chat.says("1", "PA-TEST-")
    return out[-1].text.split("mã ")[1].split()[0]


# -- 1. two close categories: the citizen chooses ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Rác đổ đầy lòng đường ở phường Hoàn Kiếm, Hà Nội mấy ngày nay", "Môi trường"),
        ("rac do day long duong o phuong hoan kiem ha noi may ngay nay", "moi truong"),  # typed title, no marks
        ("rac do day long duong o phuong hoan kiem ha noi may ngay nay", "2"),  # its number
    ],
)
def test_two_close_categories_are_asked_and_the_answer_is_recorded(chat: Chat, text: str, answer: str) -> None:
    out = chat.says(text, "hai lĩnh vực")
    assert titles(out) == ["Hạ tầng, điện, nước", "Môi trường", "Khác"]
    assert chat.state == "await_category"
    chat.says(answer, "Lĩnh vực: Môi trường", "kiểm tra lại")
    chat.says("Gửi phản ánh", "PA-TEST-0001")
    (draft,) = chat.tickets.filed
    assert draft.category == "moi_truong" and draft.nlu["category_chosen_by_citizen"] == "moi_truong"


def test_other_field_when_neither_fits(chat: Chat) -> None:
    chat.says("Rác đổ đầy lòng đường ở phường Hoàn Kiếm, Hà Nội", "hai lĩnh vực")
    chat.says("khac", "Lĩnh vực: Lĩnh vực khác")  # "Khác" typed without its marks
    chat.says("gui phan anh", "PA-TEST-0001")
    assert chat.tickets.filed[0].category == "khac"
    assert chat.tickets.filed[0].nlu["category_chosen_by_citizen"] == "khac"


def test_a_clear_category_is_not_asked(chat: Chat) -> None:
    out = chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị sụt lún", "kiểm tra lại", "Hạ tầng")
    assert "category:ha_tang" not in payloads(out)
    chat.says("1", "PA-TEST-0001")
    assert "category_chosen_by_citizen" not in chat.tickets.filed[0].nlu


def test_a_crafted_category_payload_changes_nothing(chat: Chat) -> None:
    chat.says("Rác đổ đầy lòng đường ở phường Hoàn Kiếm, Hà Nội", "hai lĩnh vực")
    chat.state  # noqa: B018 - the question waits
    chat.send("", kind="button", payload="category:khong_co")
    assert chat.state == "await_category"


# -- 2. a button from an earlier step ------------------------------------------------------------------------------
def test_a_stale_button_says_so_and_repeats_the_current_question(chat: Chat) -> None:
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị sụt lún", "kiểm tra lại")
    out = chat.says("Đồng ý", "Câu hỏi đó đã qua", "kiểm tra lại", kind="button", payload="consent:named")
    assert payloads(out) == ["confirm:send", "confirm:edit", "confirm:place", "confirm:cancel"]
    assert chat.state == "await_confirm" and not chat.tickets.filed
    chat.says("1", "PA-TEST-0001")  # the numbers still mean the repeated question's buttons


def test_a_stale_button_after_filing_files_nothing_new(chat: Chat) -> None:
    _filed(chat)
    chat.clock.advance(seconds=REPEAT + 1)
    out = chat.says("Sửa nội dung", "Câu hỏi đó đã qua", "cần chúng tôi giúp gì", kind="button", payload="confirm:edit")
    assert len(out) == 1 and chat.state == "idle" and len(chat.tickets.filed) == 1


def test_a_stale_rating_button_while_the_place_is_asked(chat: Chat) -> None:
    chat.says("Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm", "ở đâu")
    chat.says("5 sao", "Câu hỏi đó đã qua", "ở đâu", kind="button", payload="stars:5")
    assert chat.state == "await_location"
    chat.says("phuong hoan kiem ha noi", "kiểm tra lại", "Hoàn Kiếm")


REPEAT = 600


# -- 3. the official asked for more information --------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer", ["Ổ gà nằm ngay trước số nhà 12, rộng chừng nửa mét", "o ga nam truoc so nha 12 ko co bien bao"]
)
def test_the_answer_to_a_request_for_more_information_joins_the_ticket(chat: Chat, answer: str) -> None:
    code = _filed(chat)
    chat.tickets.tickets[code]["status"] = "can_bo_sung"
    chat.says(answer, "Đã bổ sung", code)
    assert chat.tickets.tickets[code]["info"] == [answer]
    assert chat.tickets.tickets[code]["status"] == "dang_xu_ly"
    assert len(chat.tickets.filed) == 1 and chat.state == "idle"
    chat.says("Cống ở phường Hoàn Kiếm, Hà Nội bị tắc", "kiểm tra lại")  # the next message is a new report again


def test_a_status_question_while_information_is_asked_is_answered_as_such(chat: Chat) -> None:
    code = _filed(chat)
    chat.tickets.tickets[code]["status"] = "can_bo_sung"
    chat.says(f"{code} sao roi", "Cần bổ sung thông tin")
    assert chat.tickets.tickets[code]["info"] == []


@pytest.mark.parametrize(
    "template",
    [
        "Bổ sung cho {code}: ổ gà nằm trước số nhà 12",
        "bo sung cho {code} - o ga nam truoc so nha 12",
        "{code} bổ sung: ổ gà nằm trước số nhà 12",
    ],
)
def test_add_to_a_named_ticket_keeps_the_words(chat: Chat, template: str) -> None:
    code = _filed(chat)
    chat.says(template.format(code=code), "Đã bổ sung", code)
    (info,) = chat.tickets.tickets[code]["info"]
    assert info.endswith("truoc so nha 12") or info.endswith("trước số nhà 12")
    assert code not in info and not info.lower().startswith("b")


def test_add_to_a_named_ticket_without_words_asks_for_them(chat: Chat) -> None:
    code = _filed(chat)
    chat.says(f"bổ sung cho {code}", "Mời Ông/Bà gửi thông tin bổ sung")
    chat.says("Ảnh chụp hôm qua, ổ gà rộng hơn", "Đã bổ sung")
    assert chat.tickets.tickets[code]["info"] == ["Ảnh chụp hôm qua, ổ gà rộng hơn"]


# -- 4. and 5. the place: asked, answered, fixed at confirmation ---------------------------------------------------
@pytest.mark.parametrize("place", ["phường Hoàn Kiếm, Hà Nội", "phuong hoan kiem ha noi", "P. Hoàn Kiếm HN"])
def test_the_answer_to_where_is_the_place_not_more_text(chat: Chat, place: str) -> None:
    chat.says("Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm", "ở đâu")
    out = chat.says(place, "kiểm tra lại", "Hoàn Kiếm")
    assert "Nội dung: Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm\n" in out[-1].text
    chat.says("1", "PA-TEST-0001")
    (draft,) = chat.tickets.filed
    assert draft.text == "Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm"
    assert (draft.commune_code, draft.province_code, draft.location_text) == (HOAN_KIEM, HA_NOI, place)


def test_a_place_nobody_knows_is_kept_as_written(chat: Chat) -> None:
    chat.says("Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm", "ở đâu")
    chat.says("ngõ nhà bà Tư", "chưa nhận ra")
    chat.says("đầu ngõ nhà bà Tư, gần chợ", "kiểm tra lại", "đầu ngõ nhà bà Tư, gần chợ")
    chat.says("1", "PA-TEST-0001")
    (draft,) = chat.tickets.filed
    assert draft.text == "Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm"
    assert draft.location_text == "đầu ngõ nhà bà Tư, gần chợ" and draft.province_code is None


@pytest.mark.parametrize("press", ["Sửa địa điểm", "sua dia diem", "3"])
def test_the_place_can_be_fixed_at_confirmation(chat: Chat, press: str) -> None:
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị sụt lún, xe máy ngã liên tục", "kiểm tra lại", "Hoàn Kiếm")
    chat.says(press, "cho biết lại nơi xảy ra")
    assert chat.state == "await_location"
    out = chat.says("phường Ba Đình, Hà Nội", "kiểm tra lại", "Ba Đình")
    assert "Hoàn Kiếm" in out[-1].text.split("Địa điểm:")[0]  # the petition's words are unchanged
    chat.says("1", "PA-TEST-0001")
    (draft,) = chat.tickets.filed
    assert draft.commune_code != HOAN_KIEM and draft.province_code == HA_NOI
    assert draft.text == "Đường ở phường Hoàn Kiếm, Hà Nội bị sụt lún, xe máy ngã liên tục"


def test_fixing_the_place_to_unknown(chat: Chat) -> None:
    chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị sụt lún", "kiểm tra lại")
    chat.says("Sửa địa điểm", "cho biết lại nơi")
    chat.says("Không rõ địa điểm", "kiểm tra lại", "chưa rõ")
    chat.says("1", "PA-TEST-0001")
    assert chat.tickets.filed[0].commune_code is None


# -- 7. what the channel can send ----------------------------------------------------------------------------------
def test_web_chat_offers_to_share_the_position_and_never_mentions_photos(web: Chat) -> None:
    out = web.says("Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm", "ở đâu")
    assert payloads(out) == ["location:share", "location:skip"]
    web.says("", "kiểm tra lại", "vị trí 21.02851, 105.85427", kind="location", location=GeoPoint(21.02851, 105.85427))
    web.says("1", "PA-TEST-0001")
    assert web.tickets.filed[0].geo == GeoPoint(21.02851, 105.85427)
    help_text = web.says("hướng dẫn")[0].text
    assert "ảnh" not in help_text
    out = web.says("bổ sung cho PA-TEST-0001", "PA-TEST-0001")
    assert "ảnh" not in out[0].text


def test_a_position_the_browser_refused_asks_in_words(web: Chat) -> None:
    web.says("Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm", "ở đâu")
    web.says("Gửi vị trí hiện tại", "ghi rõ tên xã/phường", kind="button", payload="location:share")
    assert web.state == "await_location"


def test_zalo_asks_for_photos_and_has_no_share_button(chat: Chat) -> None:
    out = chat.says("Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm", "ở đâu")
    assert payloads(out) == ["location:skip"]
    assert "ảnh" in chat.says("huong dan")[0].text


# -- 8. the privacy notice once ------------------------------------------------------------------------------------
def test_the_full_privacy_notice_once_then_a_short_reminder() -> None:
    chat = _chat()
    first = chat.says("xin chào", "13/2023", "chỉ cán bộ Mặt trận")
    chat.says("Không đồng ý", "tôn trọng")
    again = chat.says("Đường ở phường Hoàn Kiếm, Hà Nội bị sụt lún", "Như đã thông báo", "rút đồng ý")
    assert "chỉ cán bộ Mặt trận" not in again[-1].text and len(again[-1].text) < len(first[-1].text)
    chat.says("dong y", "Cảm ơn", "kiểm tra lại")


def test_a_ticket_code_typed_instead_of_a_rating_is_looked_up(chat: Chat) -> None:
    code = _filed(chat)
    chat.tickets.tickets[code]["status"] = "da_tra_loi"
    chat.conv.on_ticket_answered(chat.citizen, code)
    chat.says(code.lower(), f"Phản ánh {code}: Đã trả lời")
    assert chat.state == "idle" and chat.tickets.tickets[code]["rating"] is None
