"""The inbox's list API: text search without diacritics, every filter, the sorts, the scope rules, bad values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.db.models import Citizen, Ticket
from handlers.ports import TicketDraft

from .conftest import Api, add_official


def _file(
    api: Api,
    text: str,
    province: str | None,
    commune: str | None,
    *,
    category: str = "ha_tang",
    location: str | None = None,
    **fields: object,
) -> str:
    """File a ticket as the citizens' chat does, then set the fields a test needs (urgency, channel, times)."""
    with api.container.scope() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == "w-1")).first()
        if citizen is None:
            citizen = Citizen(channel="webchat", platform_user_id="w-1", chat_id="w-1")
            s.add(citizen)
            s.flush()
        draft = TicketDraft(
            text=text,
            category=category,
            category_confidence=0.9,
            province_code=province,
            commune_code=commune,
            location_text=location,
        )
        ticket = api.container.ops.file(s, citizen, draft)
        for name, value in fields.items():
            setattr(ticket, name, value)
        s.commit()
        return ticket.code


def _codes(api: Api, headers: dict[str, str], **params: str) -> list[str]:
    r = api.client.get("/api/tickets", params=params, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(body["data"])  # every test here fits in one page
    return [t["code"] for t in body["data"]]


def test_text_search_ignores_case_diacritics_and_word_order(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    flood = _file(api, "Nước ngập sâu nửa mét, xe chết máy hàng loạt", "01", "00070", location="đường Lê Lợi")
    lamp = _file(api, "Đèn đường hỏng cả tuần nay", "01", "00070", location="ngõ 5 Lê Lai")
    _file(api, "Ngập ở Sài Gòn sau mưa", "79", "26734")
    hk = api.login("xa.hk")

    assert _codes(api, hk, q="ngap sau le loi") == [flood]  # text and place, no diacritics
    assert _codes(api, hk, q="LÊ LỢI ngập") == [flood]  # any case, any order, with diacritics
    assert sorted(_codes(api, hk, q="le")) == sorted([flood, lamp])
    assert _codes(api, hk, q="den duong hong") == [lamp]
    assert _codes(api, hk, q=flood.lower().replace("-", "")) == [flood]  # a code as people type it
    assert _codes(api, hk, q=flood[:7]) == [flood]  # the start of a code
    assert _codes(api, hk, q="ngap sai gon") == []  # another province's ticket never shows
    assert _codes(api, hk, q="100%_") == []  # LIKE wildcards are plain characters
    assert len(_codes(api, hk, q="  ")) == 2  # blank: no text filter


def test_the_search_key_follows_the_text(api: Api) -> None:
    """Erasing personal data (or any change of the text) refreshes the search key: nothing erased stays findable."""
    add_official(api.container, "xa.hk", "00070")
    code = _file(api, "Ông Nguyễn Văn Bình ở số 12 bị mất trộm xe", "01", "00070", location="số 12 Hàng Bạc")
    hk = api.login("xa.hk")
    assert _codes(api, hk, q="nguyen van binh") == [code]
    with api.container.scope() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        ticket.text, ticket.location_text = "[đã xóa]", None
        s.commit()
        assert (
            s.scalars(select(Ticket.search_text).where(Ticket.code == code)).one()
            == f"{code.lower().replace('-', ' ')} da xoa"
        )
    assert _codes(api, hk, q="nguyen van binh") == []
    assert _codes(api, hk, q="hang bac") == []


def test_every_filter(api: Api) -> None:
    add_official(api.container, "tinh.hn", "01", "supervisor")
    a = _file(api, "Cống tắc", "01", "00070", urgent=True, channel="zalo")
    b = _file(api, "Rác thải", "01", "00070", category="moi_truong", overdue=True, status="dang_xu_ly")
    c = _file(api, "Đèn hỏng", "01", "00073", channel="telegram", status="da_dong")
    # filed at 00:30 on 2 March, Vietnam time (17:30 UTC on 1 March)
    d = _file(api, "Ổ gà", "01", None, created_at=datetime(2026, 3, 1, 17, 30, tzinfo=UTC), status="da_tiep_nhan")
    sup = api.login("tinh.hn")

    assert sorted(_codes(api, sup)) == sorted([a, b, c, d])
    assert _codes(api, sup, status="da_dong") == [c]
    assert sorted(_codes(api, sup, status="da_dong,dang_xu_ly")) == sorted([b, c])
    assert _codes(api, sup, category="moi_truong") == [b]
    assert _codes(api, sup, urgent="true") == [a]
    assert sorted(_codes(api, sup, urgent="false")) == sorted([b, c, d])
    assert _codes(api, sup, overdue="true") == [b]
    assert _codes(api, sup, channel="telegram") == [c]
    assert _codes(api, sup, channel="zalo") == [a]
    assert _codes(api, sup, **{"from": "2026-03-02", "to": "2026-03-02"}) == [d]  # Vietnam days, not UTC
    assert _codes(api, sup, **{"to": "2026-03-01"}) == []
    assert d not in _codes(api, sup, **{"from": "2026-03-03"})
    assert _codes(api, sup, unit="00073") == [c]  # a unit and the units below it
    assert sorted(_codes(api, sup, unit="01")) == sorted([a, b, c, d])
    assert _codes(api, sup, unit="00070", urgent="false") == [b]  # filters combine
    r = api.client.get("/api/tickets", params={"unit": "00070", "limit": 1}, headers=sup).json()
    assert r["count"] == 2 and len(r["data"]) == 1  # count: every match, not only the page


def test_assignee_filter(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "xa.hk2", "00070")
    mine = _file(api, "Cống tắc", "01", "00070", assignee="xa.hk")
    theirs = _file(api, "Rác thải", "01", "00070", assignee="xa.hk2")
    nobody = _file(api, "Đèn hỏng", "01", "00070")
    hk = api.login("xa.hk")
    assert _codes(api, hk, assignee="me") == [mine]
    assert _codes(api, api.login("xa.hk2"), assignee="me") == [theirs]
    assert _codes(api, hk, assignee="xa.hk2") == [theirs]
    assert _codes(api, hk, assignee="none") == [nobody]
    row = api.client.get("/api/tickets", params={"assignee": "me"}, headers=hk).json()["data"][0]
    assert row["assignee"] == "xa.hk"


def test_sorts(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    now = datetime.now(UTC)
    later = _file(api, "a", "01", "00070", deadline=now + timedelta(days=5), created_at=now - timedelta(hours=1))
    sooner = _file(api, "b", "01", "00070", deadline=now + timedelta(days=1), created_at=now - timedelta(hours=2))
    late = _file(api, "c", "01", "00070", deadline=now - timedelta(days=1), overdue=True,
                 created_at=now - timedelta(hours=3))  # fmt: skip
    urgent = _file(api, "d", "01", "00070", deadline=now + timedelta(days=9), urgent=True,
                   created_at=now - timedelta(hours=4))  # fmt: skip
    hk = api.login("xa.hk")
    assert _codes(api, hk) == [urgent, late, sooner, later]  # default: urgent, overdue, nearest deadline
    assert _codes(api, hk, sort="urgency") == [urgent, late, sooner, later]
    assert _codes(api, hk, sort="deadline") == [late, sooner, later, urgent]
    assert _codes(api, hk, sort="-deadline") == [urgent, later, sooner, late]
    assert _codes(api, hk, sort="-created_at") == [later, sooner, late, urgent]
    assert _codes(api, hk, sort="created_at") == [urgent, late, sooner, later]


def test_scope_rules(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "tinh.hn", "01", "supervisor")
    add_official(api.container, "tinh.hcm", "79", "supervisor")
    add_official(api.container, "tw.admin", "TW", "admin")
    hanoi = _file(api, "Ngập đường", "01", "00070")
    hcm = _file(api, "Ngập đường", "79", "26734")
    tinh_hn, tinh_hcm, tw = api.login("tinh.hn"), api.login("tinh.hcm"), api.login("tw.admin")

    assert _codes(api, tinh_hn, q="ngap") == [hanoi]  # a province never sees another province
    assert _codes(api, tinh_hcm, q="ngap") == [hcm]
    assert sorted(_codes(api, tw, q="ngap")) == sorted([hanoi, hcm])
    assert _codes(api, tw, unit="79") == [hcm]
    for headers, unit in ((tinh_hn, "79"), (tinh_hn, "26734"), (tinh_hn, "TW"), (api.login("xa.hk"), "01"),
                          (tinh_hn, "99999")):  # fmt: skip
        r = api.client.get("/api/tickets", params={"unit": unit}, headers=headers)
        assert r.status_code == 404 and "không tìm thấy đơn vị" in r.json()["detail"], (unit, r.text)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "xong"}, "trạng thái"),
        ({"status": "moi,,bogus"}, "trạng thái"),
        ({"category": "bong_da"}, "lĩnh vực"),
        ({"urgent": "maybe"}, "true hoặc false"),
        ({"overdue": "2"}, "true hoặc false"),
        ({"channel": "fax"}, "kênh"),
        ({"from": "2026-13-01"}, "NĂM-THÁNG-NGÀY"),
        ({"to": "hôm qua"}, "NĂM-THÁNG-NGÀY"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "ngày bắt đầu"),
        ({"assignee": "a b"}, "người được giao"),
        ({"sort": "name"}, "sắp xếp"),
        ({"unit": "0'1"}, "mã đơn vị"),
    ],
)
def test_bad_values_are_refused_in_both_languages(api: Api, params: dict[str, str], field: str) -> None:
    add_official(api.container, "xa.hk", "00070")
    r = api.client.get("/api/tickets", params=params, headers=api.login("xa.hk"))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert field in detail and " / " in detail, detail  # English / Vietnamese


def test_overlong_search_is_refused(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    r = api.client.get("/api/tickets", params={"q": "x" * 201}, headers=api.login("xa.hk"))
    assert r.status_code == 422
