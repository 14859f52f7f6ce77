"""The officials' console: login, session cookie, CSRF, list, ticket page, reply and status forms."""

from __future__ import annotations

import re

from sqlalchemy import select

from backend.db.models import Citizen, OutboxItem, Ticket
from handlers.ports import TicketDraft

from .conftest import Api, add_official


def _file(api: Api, commune: str = "00070") -> str:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id="w-console-1", chat_id="w-console-1")
        s.add(citizen)
        s.flush()
        code = api.container.ops.file(
            s, citizen, TicketDraft(text="Đèn đường hỏng", category="ha_tang", province_code="01", commune_code=commune)
        ).code
        s.commit()
        return code


def _login(api: Api, username: str) -> str:
    r = api.client.post(
        "/console/login", data={"username": username, "password": "mat-khau-123"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/console"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = api.client.get("/console")
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match
    return match.group(1)


def test_console_requires_login(api: Api) -> None:
    r = api.client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert "Đăng nhập" in api.client.get("/console/login").text
    add_official(api.container, "xa.hk", "00070")
    r = api.client.post("/console/login", data={"username": "xa.hk", "password": "sai"})
    assert r.status_code == 200 and "Sai tên đăng nhập" in r.text


def test_reply_and_status_through_the_console(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    code = _file(api)
    csrf = _login(api, "xa.hk")
    listing = api.client.get("/console")
    assert code in listing.text and "Đèn đường hỏng" in listing.text
    page = api.client.get(f"/console/tickets/{code}")
    assert page.status_code == 200 and "Phường Hoàn Kiếm" in page.text

    r = api.client.post(f"/console/tickets/{code}/reply", data={"text": "Đã tiếp nhận ạ"}, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token
    r = api.client.post(
        f"/console/tickets/{code}/reply", data={"text": "Đã tiếp nhận ạ", "csrf": "0" * 64}, follow_redirects=False
    )
    assert r.status_code == 403
    with api.container.scope() as s:
        assert s.scalars(select(OutboxItem)).first() is None

    r = api.client.post(f"/console/tickets/{code}/reply", data={"text": "Đã tiếp nhận ạ", "csrf": csrf})
    assert r.status_code == 200 and "Đã gửi trả lời" in r.text
    r = api.client.post(f"/console/tickets/{code}/status", data={"status": "dang_xu_ly", "csrf": csrf})
    assert "Đã cập nhật trạng thái" in r.text
    r = api.client.post(f"/console/tickets/{code}/status", data={"status": "moi", "csrf": csrf})
    assert "Không thể chuyển phản ánh sang trạng thái này" in r.text
    with api.container.scope() as s:
        assert s.scalars(select(Ticket)).one().status == "dang_xu_ly"
        assert len(list(s.scalars(select(OutboxItem)))) == 2


def test_other_units_ticket_is_not_found_in_console(api: Api) -> None:
    add_official(api.container, "xa.sg", "26734")
    code = _file(api)
    _login(api, "xa.sg")
    assert api.client.get(f"/console/tickets/{code}").status_code == 404


def test_console_shows_times_in_vietnam_time(api: Api) -> None:
    """Times are stored in UTC; officials read them in Vietnam time (UTC+7), in the list and on the ticket page."""
    from datetime import UTC, datetime

    add_official(api.container, "xa.hk", "00070")
    code = _file(api)
    created = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)  # 03:30 on 2 March in Hà Nội
    with api.container.scope() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        ticket.created_at = created
        s.commit()
    _login(api, "xa.hk")
    listing = api.client.get("/console").text
    assert "02/03/2026 03:30" in listing and "01/03/2026 20:30" not in listing
