"""Duplicate clusters never reach past the official's scope: replies, the `duplicates` list, the console form."""

from __future__ import annotations

import re

from sqlalchemy import select

from backend.db.models import AuditLog, Citizen, OutboxItem, Ticket, TicketEvent
from handlers.ports import TicketDraft

from .conftest import Api, add_official

FLOOD = "Đường Tràng Tiền ngập sâu sau mưa, xe máy chết máy giữa đường"


def _file(api: Api, user: str, text: str = FLOOD, category: str = "ha_tang", urgent: bool = False) -> str:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id=user, chat_id=user)
        s.add(citizen)
        s.flush()
        draft = TicketDraft(text=text, category=category, province_code="01", commune_code="00070", urgent=urgent)
        code = api.container.ops.file(s, citizen, draft).code
        s.commit()
        return code


def _cluster_of_three(api: Api) -> tuple[str, str, str]:
    """Three reports of one flooded street in Hoàn Kiếm; the province then hands the third to Cửa Nam."""
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "xa.cn", "00073")
    add_official(api.container, "tinh.hn", "01", "supervisor")
    a1, a2, b = _file(api, "w-1"), _file(api, "w-2"), _file(api, "w-3")
    with api.container.scope() as s:
        rows = {t.code: t for t in s.scalars(select(Ticket))}
        assert rows[a2].duplicate_of == rows[a1].id and rows[b].duplicate_of == rows[a1].id
    r = api.client.post(
        f"/api/tickets/{b}/reassign",
        json={"unit": "00073", "reason": "Đoạn đường này thuộc phường Cửa Nam"},
        headers=api.login("tinh.hn"),
    )
    assert r.status_code == 200, r.text
    return a1, a2, b


def _traces(api: Api, code: str) -> tuple[list[str], list[str]]:
    """(event kinds, outbox texts) of one ticket."""
    with api.container.scope() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        kinds = [e.kind for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
        sent = [o.text for o in s.scalars(select(OutboxItem).where(OutboxItem.ticket_id == ticket.id))]
        return kinds, sent


def test_cluster_reply_stays_within_the_officials_scope(api: Api) -> None:
    a1, a2, b = _cluster_of_three(api)
    b_before = _traces(api, b)
    hk = api.login("xa.hk")

    r = api.client.post(
        f"/api/tickets/{a2}/replies", json={"text": "Đã cử người khơi thông", "cluster": True}, headers=hk
    )
    assert r.status_code == 201, r.text
    assert _traces(api, b) == b_before  # no event, no message for the other commune's citizen
    assert r.json()["duplicates"] == [a1]
    for code in (a1, a2):
        kinds, sent = _traces(api, code)
        assert "reply" in kinds
        assert [t for t in sent if t.startswith("notify_reply|")] == [
            f"notify_reply|code={code}|text=Đã cử người khơi thông|unit=Phường Hoàn Kiếm"
        ]
    with api.container.scope() as s:
        replied = [a.object_id for a in s.scalars(select(AuditLog).where(AuditLog.action == "reply"))]
    assert sorted(replied) == sorted([a1, a2])

    detail = api.client.get(f"/api/tickets/{a1}", headers=hk).json()
    assert detail["duplicates"] == [a2]  # not Cửa Nam's ticket
    assert api.client.get(f"/api/tickets/{a2}", headers=hk).json()["duplicates"] == [a1]


def test_the_other_commune_sees_only_its_own_member(api: Api) -> None:
    a1, a2, b = _cluster_of_three(api)
    before = {c: _traces(api, c) for c in (a1, a2)}
    cn = api.login("xa.cn")
    assert api.client.get(f"/api/tickets/{b}", headers=cn).json()["duplicates"] == []
    r = api.client.post(
        f"/api/tickets/{b}/replies", json={"text": "Phường Cửa Nam đã nhận", "cluster": True}, headers=cn
    )
    assert r.status_code == 201
    assert {c: _traces(api, c) for c in (a1, a2)} == before
    assert any(t.startswith("notify_reply|code=" + b) for t in _traces(api, b)[1])

    # the province supervisor sees the whole cluster, and may answer all of it
    sup = api.login("tinh.hn")
    assert api.client.get(f"/api/tickets/{b}", headers=sup).json()["duplicates"] == [a1, a2]


def test_alerted_units_see_the_alerted_members(api: Api) -> None:
    """A province officer sees tickets alerted to the province, and the alerted members of their cluster."""
    add_official(api.container, "tinh.cb", "01")  # officer: own unit only, plus alerts
    text = "Cháy lớn ở dãy nhà phố Hàng Bạc, khói bao trùm cả khu phố"
    first = _file(api, "w-1", text, "thien_tai_khan_cap", urgent=True)
    second = _file(api, "w-2", text, "thien_tai_khan_cap", urgent=True)
    cb = api.login("tinh.cb")
    assert api.client.get(f"/api/tickets/{first}", headers=cb).json()["duplicates"] == [second]


def test_cluster_reply_through_the_console_stays_within_scope(api: Api) -> None:
    a1, a2, b = _cluster_of_three(api)
    b_before = _traces(api, b)
    r = api.client.post(
        "/console/login", data={"username": "xa.hk", "password": "mat-khau-123"}, follow_redirects=False
    )
    assert r.status_code == 303
    page = api.client.get(f"/console/tickets/{a1}")
    assert page.status_code == 200
    assert a2 in page.text and b not in page.text
    assert "Gửi cho cả 2 phản ánh trùng" in page.text
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match
    form = {"text": "Đã cử người khơi thông", "cluster": "1", "csrf": match.group(1)}
    preview = api.client.post(f"/console/tickets/{a1}/reply", data=form)  # first: every ticket it will reach
    assert preview.status_code == 200 and "Gửi cho 2 phản ánh" in preview.text
    assert a1 in preview.text and a2 in preview.text and b not in preview.text
    assert "reply" not in _traces(api, a2)[0]
    r = api.client.post(f"/console/tickets/{a1}/reply", data={**form, "confirm": "1"}, follow_redirects=False)
    assert r.status_code == 303
    assert _traces(api, b) == b_before
    assert "reply" in _traces(api, a2)[0]
