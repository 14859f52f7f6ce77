"""Reply templates: inherited by the units below, written only inside a supervisor's subtree, placeholders checked
at save time and filled for one ticket when picked."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.db.console_models import ReplyTemplate
from backend.db.models import AuditLog, Citizen, Ticket
from handlers.ports import TicketDraft

from .conftest import Api, add_official

DEFAULT_NAMES = ["Cần bổ sung thông tin", "Đang xử lý", "Đã có kết quả", "Đã tiếp nhận"]


def _file(api: Api) -> str:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id="w-1", chat_id="w-1")
        s.add(citizen)
        s.flush()
        draft = TicketDraft(text="Cống tắc ở Hoàn Kiếm", category="ha_tang", province_code="01", commune_code="00070")
        code = api.container.ops.file(s, citizen, draft).code
        s.commit()
        return code


def _officials(api: Api) -> None:
    add_official(api.container, "tw.admin", "TW", "admin")
    add_official(api.container, "tinh.hn", "01", "supervisor")
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "xa.hk.ld", "00070", "supervisor")
    add_official(api.container, "xa.sg", "26734")


def _names(api: Api, user: str) -> list[tuple[str, str]]:
    body = api.client.get("/api/reply-templates", headers=api.login(user)).json()
    assert body["count"] == len(body["data"])
    return [(t["unit_code"], t["name"]) for t in body["data"]]


def _count(api: Api) -> int:
    with api.container.scope() as s:
        return s.scalar(select(func.count()).select_from(ReplyTemplate)) or 0


def test_templates_are_inherited_by_the_units_below(api: Api) -> None:
    _officials(api)
    assert sorted(n for _u, n in _names(api, "xa.hk")) == sorted(DEFAULT_NAMES)  # the TW defaults
    sup = api.login("tinh.hn")
    r = api.client.post("/api/reply-templates", json={"name": "Hà Nội: ngập", "text": "Đã báo {unit}."}, headers=sup)
    assert r.status_code == 201, r.text
    assert r.json()["unit_code"] == "01" and r.json()["unit_name"] == "Thành phố Hà Nội" and r.json()["editable"]
    r = api.client.post(
        "/api/reply-templates", json={"unit": "00070", "name": "Phường: đèn", "text": "Đèn {code}"}, headers=sup
    )
    assert r.status_code == 201, r.text

    hk = _names(api, "xa.hk")
    assert hk[:2] == [("00070", "Phường: đèn"), ("01", "Hà Nội: ngập")]  # nearest unit first
    assert {n for u, n in hk if u == "TW"} == set(DEFAULT_NAMES)
    assert ("01", "Hà Nội: ngập") not in _names(api, "xa.sg")  # another province's commune
    assert ("00070", "Phường: đèn") not in _names(api, "tinh.hn")  # a unit below is not inherited upwards
    officer = api.client.get("/api/reply-templates", headers=api.login("xa.hk")).json()["data"]
    assert not any(t["editable"] for t in officer)


def test_placeholders_are_filled_for_the_ticket_in_vietnam_time(api: Api) -> None:
    _officials(api)
    code = _file(api)
    with api.container.scope() as s:
        deadline = s.scalars(select(Ticket.deadline).where(Ticket.code == code)).one()
    assert deadline is not None
    hk = api.login("xa.hk")
    data = api.client.get("/api/reply-templates", params={"ticket": code}, headers=hk).json()["data"]
    received = next(t for t in data if t["name"] == "Đã tiếp nhận")
    assert "{code}" in received["text"]
    filled = received["filled"]
    assert code in filled and "Phường Hoàn Kiếm" in filled and "{" not in filled
    from backend.domain.deadlines import VN_TZ

    assert deadline.astimezone(VN_TZ).strftime("%d/%m/%Y") in filled
    # a ticket the official may not see: 404, never its data
    assert (
        api.client.get("/api/reply-templates", params={"ticket": code}, headers=api.login("xa.sg")).status_code == 404
    )


def test_unknown_placeholders_and_bad_input_are_refused_at_save_time(api: Api) -> None:
    _officials(api)
    sup = api.login("tinh.hn")
    before = _count(api)
    for body in (
        {"name": "Sai", "text": "Kính gửi {ten_nguoi_dan}, đã nhận {code}"},
        {"name": "Sai", "text": "Thiếu dấu ngoặc {code"},
        {"name": "Sai", "text": "Ngoặc thừa code}"},
        {"name": " ", "text": "Trống tên"},
        {"name": "Trống nội dung", "text": "   "},
        {"name": "Dài", "text": "a" * 4001},
        {"name": "x" * 121, "text": "Tên dài"},
    ):
        r = api.client.post("/api/reply-templates", json=body, headers=sup)
        assert r.status_code == 422, (body, r.text)
    assert (
        "ten_nguoi_dan"
        in api.client.post("/api/reply-templates", json={"name": "Sai", "text": "{ten_nguoi_dan}"}, headers=sup).json()[
            "detail"
        ]
    )
    assert _count(api) == before
    r = api.client.post("/api/reply-templates", json={"name": "Một", "text": "{code}"}, headers=sup)
    assert r.status_code == 201
    again = api.client.post("/api/reply-templates", json={"name": "Một", "text": "khác"}, headers=sup)
    assert again.status_code == 409
    r = api.client.patch(f"/api/reply-templates/{r.json()['id']}", json={"text": "{han}"}, headers=sup)
    assert r.status_code == 422
    assert _count(api) == before + 1


def test_writing_needs_a_supervisor_inside_the_subtree(api: Api) -> None:
    _officials(api)
    hk, hk_ld, sup, admin = (api.login(u) for u in ("xa.hk", "xa.hk.ld", "tinh.hn", "tw.admin"))
    own = api.client.post("/api/reply-templates", json={"name": "Phường", "text": "{code}"}, headers=hk_ld)
    assert own.status_code == 201 and own.json()["unit_code"] == "00070"
    own_id = own.json()["id"]
    before = _count(api)

    # an officer reads but never writes: 403
    assert api.client.post("/api/reply-templates", json={"name": "A", "text": "B"}, headers=hk).status_code == 403
    assert api.client.patch(f"/api/reply-templates/{own_id}", json={"name": "C"}, headers=hk).status_code == 403
    assert api.client.delete(f"/api/reply-templates/{own_id}", headers=hk).status_code == 403
    # outside the subtree: 404 (a unit above, another province, an unknown unit or template)
    usable = api.client.get("/api/reply-templates", headers=hk).json()["data"]
    tw_default = next(t["id"] for t in usable if t["unit_code"] == "TW")
    assert api.client.patch(f"/api/reply-templates/{tw_default}", json={"name": "C"}, headers=hk_ld).status_code == 404
    assert api.client.delete(f"/api/reply-templates/{tw_default}", headers=sup).status_code == 404
    for unit in ("TW", "79", "26734", "99999"):
        body = {"unit": unit, "name": "Ngoài", "text": "x"}
        assert api.client.post("/api/reply-templates", json=body, headers=sup).status_code == 404, unit
    assert api.client.delete("/api/reply-templates/999999", headers=admin).status_code == 404
    assert _count(api) == before

    # the province supervisor edits the commune's template; the central admin deletes it
    r = api.client.patch(f"/api/reply-templates/{own_id}", json={"text": "Hạn {deadline}"}, headers=sup)
    assert r.status_code == 200 and r.json()["text"] == "Hạn {deadline}" and r.json()["name"] == "Phường"
    assert api.client.delete(f"/api/reply-templates/{own_id}", headers=admin).status_code == 204
    assert _count(api) == before - 1
    with api.container.scope() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.object_type == "reply_template"))]
    assert actions == ["template_create", "template_update", "template_delete"]
