"""The console's inbox page: filters from the query string, Vietnamese banners for bad ones, saved views."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from backend.db.inbox_models import SavedView
from backend.db.models import Citizen
from handlers.ports import TicketDraft

from .conftest import Api, add_official


def _login(api: Api, username: str) -> str:
    r = api.client.post(
        "/console/login", data={"username": username, "password": "mat-khau-123"}, follow_redirects=False
    )
    assert r.status_code == 303
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', api.client.get("/console").text)
    assert match
    return match.group(1)


def _file(api: Api, text: str, commune: str) -> str:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id=f"w-{text}", chat_id="c")
        s.add(citizen)
        s.flush()
        draft = TicketDraft(text=text, category="ha_tang", province_code="01", commune_code=commune)
        code = api.container.ops.file(s, citizen, draft).code
        s.commit()
        return code


def test_the_list_filters_and_refuses_bad_values_with_a_banner(api: Api) -> None:
    add_official(api.container, "tinh.hn", "01", "supervisor")
    lamp = _file(api, "Đèn đường hỏng", "00070")
    trash = _file(api, "Rác thải ùn ứ", "00073")
    _login(api, "tinh.hn")

    page = api.client.get("/console", params={"q": "den duong"}).text
    assert lamp in page and trash not in page
    page = api.client.get("/console", params={"unit": "00073"}).text
    assert trash in page and lamp not in page
    assert 'value="00073" selected' in page  # the unit picker keeps the choice
    for tab in ("Tất cả", "Của tôi", "Quá hạn", "Khẩn"):
        assert f">{tab}</a>" in page

    r = api.client.get("/console", params={"status": "<b>hacked</b>"})
    assert r.status_code == 200 and "Bộ lọc không hợp lệ (trạng thái)" in r.text
    assert "hacked" not in r.text  # nothing of the URL is echoed
    assert lamp in r.text and trash in r.text  # the unfiltered list
    r = api.client.get("/console", params={"unit": "79"})
    assert r.status_code == 200 and "không thuộc phạm vi" in r.text and lamp in r.text


def test_saved_views_belong_to_one_official(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "xa.hk2", "00070")
    lamp = _file(api, "Đèn đường hỏng", "00070")
    _file(api, "Rác thải ùn ứ", "00070")
    csrf = _login(api, "xa.hk")

    form = {"csrf": csrf, "name": "  Đèn   đường ", "query": "q=den+duong&page=3&evil=1"}
    assert api.client.post("/console/views", data={**form, "csrf": "bad"}).status_code == 403
    r = api.client.post("/console/views", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console?q=den+duong&msg=view_saved"
    page = api.client.get("/console").text
    assert 'href="/console?q=den+duong" class="saved">Đèn đường</a>' in page
    r = api.client.post("/console/views", data=form, follow_redirects=False)  # the same name again
    assert r.headers["location"] == "/console?msg=view_name"
    r = api.client.post("/console/views", data={**form, "name": "x", "query": "status=bogus"}, follow_redirects=False)
    assert r.headers["location"] == "/console?msg=view_name"
    assert "Tên chế độ xem" in api.client.get(r.headers["location"]).text
    with api.container.scope() as s:
        view_id = s.scalars(select(SavedView.id)).one()
        assert s.scalars(select(SavedView.query)).one() == "q=den+duong"
    page = api.client.get("/console", params={"q": "den duong"}).text
    assert lamp in page and "Xóa chế độ xem" in page

    other = _login(api, "xa.hk2")  # another official neither sees nor deletes it
    assert "Đèn đường</a>" not in api.client.get("/console").text
    r = api.client.post(f"/console/views/{view_id}/delete", data={"csrf": other}, follow_redirects=False)
    assert r.status_code == 404
    csrf = _login(api, "xa.hk")
    r = api.client.post(f"/console/views/{view_id}/delete", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console?msg=view_deleted"
    with api.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(SavedView)) == 0


def test_the_list_names_the_assignee_as_the_ticket_page_does(api: Api) -> None:
    """The list showed the assignee's login ("xa.hk"); officials know each other by name."""
    from backend.db.models import Official, Ticket

    add_official(api.container, "xa.hk", "00070")
    code = _file(api, "Cống thoát nước bị tắc", "00070")
    other = _file(api, "Đèn đường hỏng", "00070")
    with api.container.scope() as s:
        official = s.scalars(select(Official).where(Official.username == "xa.hk")).one()
        official.full_name = "Nguyễn Thị Hoa"
        s.scalars(select(Ticket).where(Ticket.code == code)).one().assignee = "xa.hk"
        s.commit()
    _login(api, "xa.hk")
    page = api.client.get("/console").text
    row = page[page.index(code) :]
    assert "Nguyễn Thị Hoa" in row[: row.index("</tr>")]
    row = page[page.index(other) :]
    assert "Chưa giao" in row[: row.index("</tr>")]
