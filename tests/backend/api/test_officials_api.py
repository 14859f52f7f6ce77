"""Managing officials' accounts: GET/POST /api/officials, PATCH /api/officials/{username} — roles, subtree scope,
bad input, audit, and the end of sessions and tokens when an account is changed (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from sqlalchemy import select

from backend.db.models import AuditLog, Official, OfficialSession
from backend.services.security import verify_password
from tests.backend.api.conftest import Api, add_official

STRONG = "Sông-Hồng-chảy-qua-2026"


def _audit(api: Api, username: str) -> list[AuditLog]:
    with api.container.scope() as s:
        rows = list(
            s.scalars(select(AuditLog).where(AuditLog.object_type == "official", AuditLog.object_id == username))
        )
        s.expunge_all()
        return rows


def _official(api: Api, username: str) -> Official:
    with api.container.scope() as s:
        found = s.scalars(select(Official).where(Official.username == username)).one()
        s.expunge(found)
        return found


def test_a_supervisor_lists_only_its_subtree_without_hashes(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    add_official(api.container, "hk_officer", "00070", "officer")
    add_official(api.container, "sg_officer", "26734", "officer")
    r = api.client.get("/api/officials", headers=api.login("hn_lead"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {o["username"] for o in body["data"]} == {"hn_lead", "hk_officer"}
    assert body["count"] == 2
    assert all("password" not in key for o in body["data"] for key in o)
    first = next(o for o in body["data"] if o["username"] == "hk_officer")
    assert first["unit"] == {"code": "00070", "name": "Phường Hoàn Kiếm", "level": "commune"}
    assert first["created_at"].endswith("+07:00")  # Vietnam time


def test_officers_are_refused_every_operation(api: Api) -> None:
    add_official(api.container, "hk_officer", "00070", "officer")
    add_official(api.container, "hk_other", "00070", "officer")
    auth = api.login("hk_officer")
    assert api.client.get("/api/officials", headers=auth).status_code == 403
    r = api.client.post("/api/officials", headers=auth, json={"username": "moi", "unit": "00070"})
    assert r.status_code == 403
    assert "Chỉ lãnh đạo" in r.json()["detail"]
    assert api.client.patch("/api/officials/hk_other", headers=auth, json={"active": False}).status_code == 403
    assert _official(api, "hk_other").active
    with api.container.scope() as s:
        assert s.scalars(select(Official).where(Official.username == "moi")).first() is None


def test_create_with_a_temporary_password_that_logs_in_once_shown(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    r = api.client.post(
        "/api/officials",
        headers=api.login("hn_lead"),
        json={"username": "hk.moi", "unit": "00070", "full_name": "Nguyễn Thị Lan"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    temp = body["temporary_password"]
    assert body["role"] == "officer" and body["unit"]["code"] == "00070" and body["active"] is True
    assert temp and len(temp) == 19
    assert api.login("hk.moi", temp)
    assert [a.action for a in _audit(api, "hk.moi")] == ["create"]
    listed = api.client.get("/api/officials", headers=api.login("hn_lead")).json()["data"]
    assert all(o.get("temporary_password") is None for o in listed)


def test_create_with_a_given_password_checks_the_policy(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    auth = api.login("hn_lead")
    weak = api.client.post("/api/officials", headers=auth, json={"username": "yeu", "unit": "01", "password": "123456"})
    assert weak.status_code == 422
    assert "Mật khẩu không được chấp nhận" in weak.json()["detail"]
    ok = api.client.post("/api/officials", headers=auth, json={"username": "manh", "unit": "01", "password": STRONG})
    assert ok.status_code == 201 and ok.json()["temporary_password"] is None
    assert api.login("manh", STRONG)
    with api.container.scope() as s:
        assert s.scalars(select(Official).where(Official.username == "yeu")).first() is None


def test_scope_and_rank_rules_on_create(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    add_official(api.container, "hk_officer", "00070", "officer")
    auth = api.login("hn_lead")
    outside = api.client.post("/api/officials", headers=auth, json={"username": "sg", "unit": "26734"})
    assert outside.status_code == 404  # a unit outside the subtree: not found, whether or not it exists
    unknown = api.client.post("/api/officials", headers=auth, json={"username": "x1", "unit": "99999"})
    assert unknown.status_code == 404
    above = api.client.post("/api/officials", headers=auth, json={"username": "ad", "unit": "01", "role": "admin"})
    assert above.status_code == 403
    taken = api.client.post("/api/officials", headers=auth, json={"username": "HK_OFFICER", "unit": "00070"})
    assert taken.status_code == 409
    bad_name = api.client.post("/api/officials", headers=auth, json={"username": "có dấu", "unit": "01"})
    assert bad_name.status_code == 422
    bad_role = api.client.post("/api/officials", headers=auth, json={"username": "r", "unit": "01", "role": "boss"})
    assert bad_role.status_code == 422
    extra = api.client.post("/api/officials", headers=auth, json={"username": "e", "unit": "01", "password_hash": "x"})
    assert extra.status_code == 422
    with api.container.scope() as s:
        names = set(s.scalars(select(Official.username)))
    assert names == {"hn_lead", "hk_officer"}


def test_an_admin_at_the_centre_creates_anywhere(api: Api) -> None:
    add_official(api.container, "tw_admin", "TW", "admin")
    r = api.client.post(
        "/api/officials", headers=api.login("tw_admin"), json={"username": "sg_lead", "unit": "79", "role": "admin"}
    )
    assert r.status_code == 201, r.text


def test_patch_outside_the_subtree_is_not_found(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    add_official(api.container, "sg_officer", "26734", "officer")
    auth = api.login("hn_lead")
    assert api.client.patch("/api/officials/sg_officer", headers=auth, json={"active": False}).status_code == 404
    assert api.client.patch("/api/officials/nobody", headers=auth, json={"active": False}).status_code == 404
    assert _official(api, "sg_officer").active


def test_deactivation_revokes_sessions_and_tokens_and_is_audited(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    add_official(api.container, "hk_officer", "00070", "officer")
    officer_token = api.login("hk_officer")
    login = api.client.post(
        "/console/login", data={"username": "hk_officer", "password": "mat-khau-123"}, follow_redirects=False
    )
    assert login.status_code == 303
    assert api.client.get("/api/tickets", headers=officer_token).status_code == 200
    r = api.client.patch("/api/officials/hk_officer", headers=api.login("hn_lead"), json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert api.client.get("/api/tickets", headers=officer_token).status_code == 401
    with api.container.scope() as s:
        target = s.scalars(select(Official).where(Official.username == "hk_officer")).one()
        revoked = list(s.scalars(select(OfficialSession.revoked_at).where(OfficialSession.official_id == target.id)))
    assert revoked and all(at is not None for at in revoked)
    assert (
        api.client.post("/api/auth/token", data={"username": "hk_officer", "password": "mat-khau-123"}).status_code
        == 401
    )
    entries = _audit(api, "hk_officer")
    update = [a for a in entries if a.action == "update"]
    assert update and update[0].actor == "hn_lead" and update[0].detail == {"active": False}


def test_role_and_unit_change_revoke_tokens(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    add_official(api.container, "hk_officer", "00070", "officer")
    token = api.login("hk_officer")
    r = api.client.patch(
        "/api/officials/hk_officer", headers=api.login("hn_lead"), json={"unit": "00073", "role": "supervisor"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["unit"]["code"] == "00073" and r.json()["role"] == "supervisor"
    assert api.client.get("/api/tickets", headers=token).status_code == 401
    assert api.login("hk_officer")  # the password still works: only the old tokens ended
    detail = next(a.detail for a in _audit(api, "hk_officer") if a.action == "update")
    assert detail == {"role": ["officer", "supervisor"], "unit": ["00070", "00073"]}


def test_a_name_change_keeps_the_sessions(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    add_official(api.container, "hk_officer", "00070", "officer")
    token = api.login("hk_officer")
    r = api.client.patch("/api/officials/hk_officer", headers=api.login("hn_lead"), json={"full_name": "Trần Văn Bình"})
    assert r.status_code == 200 and r.json()["full_name"] == "Trần Văn Bình"
    assert api.client.get("/api/tickets", headers=token).status_code == 200


def test_password_reset_returns_a_temporary_password_once(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    add_official(api.container, "hk_officer", "00070", "officer")
    token = api.login("hk_officer")
    r = api.client.patch("/api/officials/hk_officer", headers=api.login("hn_lead"), json={"reset_password": True})
    assert r.status_code == 200
    temp = r.json()["temporary_password"]
    assert temp and verify_password(temp, _official(api, "hk_officer").password_hash)
    assert api.client.get("/api/tickets", headers=token).status_code == 401
    assert (
        api.client.post("/api/auth/token", data={"username": "hk_officer", "password": "mat-khau-123"}).status_code
        == 401
    )
    assert api.login("hk_officer", temp)
    given = api.client.patch("/api/officials/hk_officer", headers=api.login("hn_lead"), json={"password": STRONG})
    assert given.status_code == 200 and given.json()["temporary_password"] is None
    assert api.login("hk_officer", STRONG)
    weak = api.client.patch(
        "/api/officials/hk_officer", headers=api.login("hn_lead"), json={"password": "hk_officer1234"}
    )
    assert weak.status_code == 422
    assert api.login("hk_officer", STRONG)  # a refused change changes nothing


def test_a_supervisor_cannot_raise_or_touch_those_above(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    add_official(api.container, "hk_officer", "00070", "officer")
    add_official(api.container, "hk_admin", "00070", "admin")
    auth = api.login("hn_lead")
    assert api.client.patch("/api/officials/hk_officer", headers=auth, json={"role": "admin"}).status_code == 403
    assert api.client.patch("/api/officials/hk_admin", headers=auth, json={"active": False}).status_code == 403
    assert _official(api, "hk_officer").role == "officer"
    assert _official(api, "hk_admin").active


def test_nobody_locks_themselves_out(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    auth = api.login("hn_lead")
    assert api.client.patch("/api/officials/hn_lead", headers=auth, json={"active": False}).status_code == 409
    assert api.client.patch("/api/officials/hn_lead", headers=auth, json={"role": "officer"}).status_code == 409
    assert api.client.patch("/api/officials/hn_lead", headers=auth, json={"unit": "00070"}).status_code == 409
    same = api.client.patch("/api/officials/hn_lead", headers=auth, json={"role": "supervisor", "unit": "01"})
    assert same.status_code == 200  # the values it already has: nothing changes


def test_bad_input_is_refused_clearly(api: Api) -> None:
    add_official(api.container, "hn_lead", "01", "supervisor")
    add_official(api.container, "hk_officer", "00070", "officer")
    auth = api.login("hn_lead")
    both = api.client.patch(
        "/api/officials/hk_officer", headers=auth, json={"password": STRONG, "reset_password": True}
    )
    assert both.status_code == 422
    assert api.client.patch("/api/officials/hk_officer", headers=auth, json={"active": "maybe"}).status_code == 422
    assert api.client.get("/api/officials", headers=auth, params={"limit": 0}).status_code == 422
    assert api.client.get("/api/officials").status_code == 401


def _console_login(api: Api, username: str) -> str:
    r = api.client.post(
        "/console/login", data={"username": username, "password": "mat-khau-123"}, follow_redirects=False
    )
    assert r.status_code == 303
    page = api.client.get("/console/officials")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    return found.group(1) if found else ""


def test_the_console_page_follows_the_same_rules(api: Api) -> None:
    add_official(api.container, "hk_officer", "00070", "officer")
    add_official(api.container, "hn_lead", "01", "supervisor")
    _console_login(api, "hk_officer")
    refused = api.client.get("/console/officials")
    assert refused.status_code == 403 and "Chỉ lãnh đạo đơn vị" in refused.text
    assert 'href="/console/officials"' not in refused.text  # no nav link for officers
    api.client.cookies.clear()
    csrf = _console_login(api, "hn_lead")
    page = api.client.get("/console/officials")
    assert page.status_code == 200 and 'href="/console/officials"' in page.text and "hk_officer" in page.text
    forged = api.client.post("/console/officials", data={"username": "gia", "unit": "01"})
    assert forged.status_code == 403
    outside = api.client.post("/console/officials", data={"username": "sg", "unit": "26734", "csrf": csrf})
    assert outside.status_code == 404 and "Không có đơn vị này" in outside.text
    made = api.client.post("/console/officials", data={"username": "hk.moi", "unit": "00070", "csrf": csrf})
    assert made.status_code == 200 and "Đã tạo tài khoản hk.moi" in made.text
    temp = re.search(r'<code class="secret">([^<]+)</code>', made.text)
    assert temp is not None and api.login("hk.moi", temp.group(1))
    assert temp.group(1) not in api.client.get("/console/officials").text  # shown once
    off = api.client.post("/console/officials/hk_officer", data={"active": "0", "role": "officer", "csrf": csrf})
    assert off.status_code == 200 and "Đã lưu thay đổi" in off.text and "Đã khóa" in off.text
    assert not _official(api, "hk_officer").active
