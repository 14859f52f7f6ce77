"""Sessions and accounts: server-side console sessions, revocable API tokens, login throttling, security headers."""

from __future__ import annotations

import hashlib
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.db.models import AuditLog, Citizen, Official, OfficialSession
from handlers.ports import TicketDraft

from .conftest import Api, add_official

PASSWORD = "mat-khau-123"


def _console_login(api: Api, username: str, address: str | None = None) -> str:
    """Log in to the console; return the CSRF token of the session."""
    r = api.client.post("/console/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console", r.text
    page = api.client.get("/console")
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert page.status_code == 200 and match
    return match.group(1)


def _file(api: Api) -> str:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id="w-sess-1", chat_id="w-sess-1")
        s.add(citizen)
        s.flush()
        code = api.container.ops.file(
            s, citizen, TicketDraft(text="Đèn đường hỏng", category="ha_tang", province_code="01", commune_code="00070")
        ).code
        s.commit()
        return code


# --- console sessions -------------------------------------------------------------------------------------------


def test_console_session_is_a_server_side_record_holding_only_a_hash(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    _console_login(api, "xa.hk")
    cookie = api.client.cookies["gopy_session"]
    with api.container.scope() as s:
        row = s.scalars(select(OfficialSession)).one()
        assert row.id_hash == hashlib.sha256(cookie.encode()).hexdigest()
        assert cookie not in row.id_hash and row.revoked_at is None
        assert row.expires_at > row.created_at


def test_stolen_cookie_replayed_after_logout_goes_back_to_login(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    csrf = _console_login(api, "xa.hk")
    stolen = api.client.cookies["gopy_session"]
    r = api.client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login?msg=logged_out"
    assert "Bạn đã đăng xuất" in api.client.get(r.headers["location"]).text
    api.client.cookies.clear()
    api.client.cookies.set("gopy_session", stolen)
    r = api.client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    with api.container.scope() as s:
        assert s.scalars(select(OfficialSession)).one().revoked_at is not None


def test_logout_needs_the_csrf_token(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    _console_login(api, "xa.hk")
    assert api.client.post("/console/logout", data={"csrf": "0" * 64}, follow_redirects=False).status_code == 403
    assert api.client.get("/console", follow_redirects=False).status_code == 200


def test_forged_or_expired_console_cookie_is_refused(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    api.client.cookies.set("gopy_session", "not-a-session")
    assert api.client.get("/console", follow_redirects=False).status_code == 303
    api.client.cookies.clear()
    _console_login(api, "xa.hk")
    with api.container.scope() as s:
        row = s.scalars(select(OfficialSession)).one()
        row.expires_at = row.created_at
        s.commit()
    r = api.client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"


# --- API tokens -------------------------------------------------------------------------------------------------


def test_api_logout_revokes_the_token(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    headers = api.login("xa.hk")
    assert api.client.get("/api/tickets", headers=headers).status_code == 200
    r = api.client.post("/api/auth/logout", headers=headers)
    assert r.status_code == 204
    r = api.client.get("/api/tickets", headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert api.client.get("/api/tickets", headers=api.login("xa.hk")).status_code == 200  # a new login works


def test_token_of_an_older_version_is_refused(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    headers = api.login("xa.hk")
    with api.container.scope() as s:
        official = s.scalars(select(Official).where(Official.username == "xa.hk")).one()
        official.token_version += 1
        s.commit()
    assert api.client.get("/api/tickets", headers=headers).status_code == 401


def test_deactivated_and_reactivated_official_keeps_no_old_session(api: Api) -> None:
    from backend.services.accounts import deactivate

    add_official(api.container, "xa.hk", "00070")
    headers = api.login("xa.hk")
    _console_login(api, "xa.hk")
    with api.container.scope() as s:
        deactivate(s, s.scalars(select(Official).where(Official.username == "xa.hk")).one())
        s.commit()
    assert api.client.get("/api/tickets", headers=headers).status_code == 401
    assert api.client.get("/console", follow_redirects=False).status_code == 303
    with api.container.scope() as s:
        s.scalars(select(Official).where(Official.username == "xa.hk")).one().active = True
        s.commit()
    assert api.client.get("/api/tickets", headers=headers).status_code == 401
    assert api.client.get("/console", follow_redirects=False).status_code == 303


# --- login throttling and audit -----------------------------------------------------------------------------------


def _client_at(api: Api, address: str) -> TestClient:
    """Another browser at another client address, on the same app."""
    return TestClient(api.client.app, client=(address, 40000))


def test_api_logins_are_throttled_per_account_with_retry_after(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    for _ in range(5):
        r = api.client.post("/api/auth/token", data={"username": "xa.hk", "password": "sai-mat-khau-1"})
        assert r.status_code == 401
    r = api.client.post("/api/auth/token", data={"username": "xa.hk", "password": PASSWORD})
    assert r.status_code == 429, r.text  # throttled even with the right password: no oracle for guessing
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60
    assert "Too many" in r.json()["detail"] and "quá nhiều" in r.json()["detail"]
    # another account from the same address is not throttled by this one
    add_official(api.container, "xa.hk2", "00070")
    assert api.client.post("/api/auth/token", data={"username": "xa.hk2", "password": PASSWORD}).status_code == 200


def test_logins_are_throttled_per_client_address(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    for i in range(20):
        r = api.client.post("/api/auth/token", data={"username": f"khong.co.{i}", "password": "sai-mat-khau-1"})
        assert r.status_code == 401
    r = api.client.post("/api/auth/token", data={"username": "xa.hk", "password": PASSWORD})
    assert r.status_code == 429 and "retry-after" in r.headers


def test_throttle_is_not_a_permanent_lockout(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    for _ in range(6):
        api.client.post("/api/auth/token", data={"username": "xa.hk", "password": "sai-mat-khau-1"})
    assert api.client.post("/api/auth/token", data={"username": "xa.hk", "password": PASSWORD}).status_code == 429
    # the window passes: the counters are gone (fixed windows in Redis expire), the account works again
    kv = api.container.kv
    for key in kv.sync.scan_iter(kv.key("throttle", "*")):
        kv.sync.delete(key)
    assert api.client.post("/api/auth/token", data={"username": "xa.hk", "password": PASSWORD}).status_code == 200
    with api.container.scope() as s:
        assert s.scalars(select(Official)).one().active


def test_success_does_not_reset_the_failure_counter(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    for _ in range(4):
        api.client.post("/api/auth/token", data={"username": "xa.hk", "password": "sai-mat-khau-1"})
    assert api.client.post("/api/auth/token", data={"username": "xa.hk", "password": PASSWORD}).status_code == 200
    assert (
        api.client.post("/api/auth/token", data={"username": "xa.hk", "password": "sai-mat-khau-1"}).status_code == 401
    )
    assert api.client.post("/api/auth/token", data={"username": "xa.hk", "password": PASSWORD}).status_code == 429


def test_success_elsewhere_does_not_reset_another_address(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    attacker, official = _client_at(api, "198.51.100.9"), _client_at(api, "203.0.113.7")
    for i in range(20):
        assert attacker.post("/api/auth/token", data={"username": f"u{i}", "password": "x" * 12}).status_code == 401
    assert official.post("/api/auth/token", data={"username": "xa.hk", "password": PASSWORD}).status_code == 200
    r = attacker.post("/api/auth/token", data={"username": "xa.hk", "password": PASSWORD})
    assert r.status_code == 429
    with api.container.scope() as s:
        failed = [r.detail for r in s.scalars(select(AuditLog)) if r.action == "login_failed"]
    assert {d["address"] for d in failed} == {"198.51.100.9"} and len(failed) == 21
    assert [d["reason"] for d in failed].count("throttled") == 1


def test_console_login_throttle_shows_a_vietnamese_banner(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    for _ in range(5):
        r = api.client.post("/console/login", data={"username": "xa.hk", "password": "sai-mat-khau-1"})
        assert r.status_code == 200 and "Sai tên đăng nhập" in r.text
    r = api.client.post("/console/login", data={"username": "xa.hk", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 429 and "retry-after" in r.headers
    assert "quá nhiều lần" in r.text and "gopy_session" not in r.headers.get("set-cookie", "")


def test_failed_logins_are_audited_without_the_password(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    api.client.post("/api/auth/token", data={"username": "xa.hk", "password": "bi-mat-sai-1"})
    api.client.post("/console/login", data={"username": "ai.do", "password": "bi-mat-sai-2"})
    with api.container.scope() as s:
        rows = [(r.actor, r.object_id, r.detail) for r in s.scalars(select(AuditLog).order_by(AuditLog.id))]
    failed = [row for row in rows if row[2].get("reason") == "bad_credentials"]
    assert [(object_id, detail["channel"]) for _, object_id, detail in failed] == [
        ("xa.hk", "api"),
        ("ai.do", "console"),
    ]
    for _, _, detail in failed:
        assert detail["address"] == "testclient" and detail["username"] in ("xa.hk", "ai.do")
    assert "bi-mat-sai" not in repr(rows)


# --- banners and headers ------------------------------------------------------------------------------------------


def test_banner_text_cannot_be_chosen_by_the_url(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    code = _file(api)
    _console_login(api, "xa.hk")
    forged = "Hệ thống bảo trì, hãy nhập mật khẩu tại evil.example"
    for param in ("ok", "error", "msg"):
        page = api.client.get(f"/console/tickets/{code}", params={param: forged})
        assert page.status_code == 200 and "evil.example" not in page.text
    page = api.client.get(f"/console/tickets/{code}", params={"msg": "replied"})
    assert "Đã gửi trả lời tới người dân." in page.text


def test_action_redirects_carry_message_codes(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    code = _file(api)
    csrf = _console_login(api, "xa.hk")
    r = api.client.post(
        f"/console/tickets/{code}/reply", data={"text": "Đã tiếp nhận ạ", "csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/console/tickets/{code}?msg=replied"
    r = api.client.post(f"/console/tickets/{code}/status", data={"status": "moi", "csrf": csrf}, follow_redirects=False)
    assert r.headers["location"] == f"/console/tickets/{code}?msg=status_refused"
    assert "Không thể chuyển" in api.client.get(r.headers["location"]).text


def test_console_pages_carry_security_headers(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    code = _file(api)
    login = api.client.get("/console/login")
    _console_login(api, "xa.hk")
    for r in (login, api.client.get("/console"), api.client.get(f"/console/tickets/{code}")):
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
        assert "unsafe-inline" not in csp and "script-src 'self'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert "<script>" not in r.text and "<style>" not in r.text and " style=" not in r.text
        assert not re.search(r"\son[a-z]+=", r.text)  # no inline event handlers
    css = api.client.get("/console/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_officials_api_responses_are_not_cached(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    headers = api.login("xa.hk")
    r = api.client.get("/api/tickets", headers=headers)
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    r = api.client.post("/api/auth/token", data={"username": "xa.hk", "password": PASSWORD})
    assert r.headers["cache-control"] == "no-store"


def test_web_chat_page_has_its_own_csp_with_hashed_inline_code(api: Api) -> None:
    import base64

    r = api.client.get("/chat")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "connect-src 'self'" in csp
    for tag in ("script", "style"):
        for body in re.findall(rf"<{tag}>(.*?)</{tag}>", r.text, re.S):
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_every_banner_code_has_a_text_and_refusals_read_in_vietnamese(api: Api) -> None:
    from backend.console.messages import _REFUSALS, BANNERS, banner

    assert {code for _, code in _REFUSALS} <= set(BANNERS)
    many = banner("replied_many", n=3)
    assert many is not None and many.text == "Đã gửi trả lời tới 3 phản ánh."
    assert banner("no-such-code") is None and banner(None) is None
    add_official(api.container, "xa.hk", "00070")
    code = _file(api)
    csrf = _console_login(api, "xa.hk")
    r = api.client.post(
        f"/console/tickets/{code}/reassign", data={"unit": "99999", "reason": "sai địa bàn", "csrf": csrf}
    )
    assert "Vui lòng chọn đơn vị nhận trong danh sách" in r.text and "unknown unit" not in r.text
