"""Officials' JSON API: login, own unit's tickets only, reply, status, reassign, notes, audit."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import func, select

from backend.db.models import AuditLog, Citizen, OutboxItem, Ticket
from backend.services.corrections import export_corrections
from handlers.ports import TicketDraft

from .conftest import Api, add_official


def _file(api: Api, text: str, province: str | None, commune: str | None, user: str = "w-citizen-1") -> str:
    with api.container.scope() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == user)).first()
        if citizen is None:
            citizen = Citizen(channel="webchat", platform_user_id=user, chat_id=user)
            s.add(citizen)
            s.flush()
        draft = TicketDraft(
            text=text, category="ha_tang", category_confidence=0.9, province_code=province, commune_code=commune
        )
        code = api.container.ops.file(s, citizen, draft).code
        s.commit()
        return code


def test_login_errors(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    r = api.client.post("/api/auth/token", data={"username": "xa.hk", "password": "sai-mat-khau"})
    assert r.status_code == 401 and "Sai" in r.json()["detail"]
    r = api.client.post("/api/auth/token", data={"username": "khong.co", "password": "mat-khau-123"})
    assert r.status_code == 401
    assert api.client.get("/api/tickets").status_code == 401
    assert api.client.get("/api/tickets", headers={"Authorization": "Bearer abc.def"}).status_code == 401


def test_officials_see_only_their_units_tickets(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "xa.sg", "26734")
    add_official(api.container, "tinh.hn", "01", "supervisor")
    first = _file(api, "Đèn đường hỏng ở Hoàn Kiếm", "01", "00070")
    second = _file(api, "Cống tắc ở Hoàn Kiếm", "01", "00070")
    saigon = _file(api, "Ngập ở Sài Gòn", "79", "26734")

    hk = api.login("xa.hk")
    newest = {"sort": "-created_at"}  # the default order (urgent, overdue, nearest deadline): test_inbox_filters.py
    body = api.client.get("/api/tickets", params=newest, headers=hk).json()
    assert body["count"] == 2 and [t["code"] for t in body["data"]] == [second, first]  # newest first
    page = api.client.get("/api/tickets", params={**newest, "limit": 1, "offset": 1}, headers=hk).json()
    assert page["count"] == 2 and [t["code"] for t in page["data"]] == [first]
    assert api.client.get(f"/api/tickets/{saigon}", headers=hk).status_code == 404
    assert api.client.get("/api/tickets/PA-0000-0000", headers=hk).status_code == 404

    detail = api.client.get(f"/api/tickets/{first.lower()}", headers=hk).json()
    assert detail["unit"] == {"code": "00070", "name": "Phường Hoàn Kiếm", "level": "commune"}
    assert detail["status"] == "moi" and detail["category"] == "ha_tang" and detail["intent"] == "gui_phan_anh"
    assert detail["location"]["commune"] == "Phường Hoàn Kiếm" and detail["location"]["province"] == "Thành phố Hà Nội"
    assert detail["routing_reason"] and detail["deadline"] and isinstance(detail["conversation"], list)

    supervisor = api.login("tinh.hn")
    assert api.client.get("/api/tickets", headers=supervisor).json()["count"] == 2
    assert api.client.get("/api/tickets", headers=api.login("xa.sg")).json()["count"] == 1
    with api.container.scope() as s:
        assert (s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "view")) or 0) >= 1


def test_reply_status_reassign_and_notes(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "tinh.hn", "01", "supervisor")
    code = _file(api, "Đèn đường hỏng ở Hoàn Kiếm", "01", "00070")
    hk = api.login("xa.hk")

    r = api.client.post(f"/api/tickets/{code}/replies", json={"text": "  Chúng tôi đã tiếp nhận.  "}, headers=hk)
    assert r.status_code == 201 and r.json()["status"] == "da_tiep_nhan"
    r = api.client.post(f"/api/tickets/{code}/status", json={"status": "dang_xu_ly"}, headers=hk)
    assert r.status_code == 200 and r.json()["status"] == "dang_xu_ly"
    r = api.client.post(f"/api/tickets/{code}/status", json={"status": "moi"}, headers=hk)
    assert r.status_code == 409 and "cannot change status" in r.json()["detail"]
    r = api.client.post(f"/api/tickets/{code}/status", json={"status": "xong_roi"}, headers=hk)
    assert r.status_code == 422
    r = api.client.post(f"/api/tickets/{code}/status", json={"status": "tu_choi"}, headers=hk)
    assert r.status_code == 409 and "needs a note" in r.json()["detail"]
    r = api.client.post(f"/api/tickets/{code}/notes", json={"text": "Đã gọi điện cho đội điện"}, headers=hk)
    assert r.status_code == 201
    assert any(e["kind"] == "note" and not e["public"] for e in r.json()["events"])

    with api.container.scope() as s:
        texts = [i.text.split("|")[0] for i in s.scalars(select(OutboxItem).order_by(OutboxItem.id))]
    assert texts == ["notify_reply", "notify_status_dang_xu_ly"]  # notes are never sent to the citizen

    sup = api.login("tinh.hn")
    r = api.client.post(
        f"/api/tickets/{code}/reassign", json={"unit": "00073", "reason": "Thuộc phường Cửa Nam"}, headers=sup
    )
    assert r.status_code == 200 and r.json()["unit"]["code"] == "00073"
    assert api.client.get(f"/api/tickets/{code}", headers=hk).status_code == 404  # no longer theirs
    r = api.client.post(f"/api/tickets/{code}/reassign", json={"unit": "99999", "reason": "x"}, headers=sup)
    assert r.status_code == 422


def test_bad_input_changes_nothing(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    code = _file(api, "Đèn đường hỏng ở Hoàn Kiếm", "01", "00070")
    hk = api.login("xa.hk")
    for body in ({"text": ""}, {"text": "   "}, {"text": "x" * 4001}, {"txt": "a"}, {"text": "a", "extra": 1}):
        assert api.client.post(f"/api/tickets/{code}/replies", json=body, headers=hk).status_code == 422
    r = api.client.post(
        f"/api/tickets/{code}/replies", content=b"{oops", headers={**hk, "content-type": "application/json"}
    )
    assert r.status_code == 422
    with api.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 0
        assert s.scalars(select(Ticket)).one().status == "moi"
    big = b"x" * 1_000_001
    r = api.client.post(f"/api/tickets/{code}/replies", content=big, headers={**hk, "content-type": "application/json"})
    assert r.status_code == 413
    assert api.client.get("/healthz").json() == {"status": "ok"}


def test_webchat_rejects_bad_input(api: Api) -> None:
    post = api.client.post
    assert post("/api/webchat/messages", json={"session": "abcdefgh1", "text": ""}).status_code == 422
    assert post("/api/webchat/messages", json={"session": "abcdefgh1", "text": "x" * 4001}).status_code == 422
    assert post("/api/webchat/messages", json={"session": "bad session!", "text": "xin chào"}).status_code == 422
    assert post("/api/webchat/messages", json={"text": "xin chào"}).status_code == 422
    r = post("/api/webchat/messages", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert api.client.get("/api/webchat/messages", params={"session": "unknown-session"}).status_code == 404
    assert api.client.get("/api/webchat/messages", params={"session": "x"}).status_code == 422
    assert post("/api/nlu/parse", json={"text": ""}).status_code == 422
    assert post("/api/nlu/parse", json={"text": "y" * 4001}).status_code == 422
    with api.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Citizen)) == 0


def test_health_and_readiness(api: Api) -> None:
    assert api.client.get("/healthz").status_code == 200
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "redis": True}


def test_category_corrections_become_rasa_training_data(api: Api, tmp_path: Path) -> None:
    add_official(api.container, "xa.hk", "00070")
    code = _file(api, "Bãi rác tự phát bốc mùi ở Hoàn Kiếm", "01", "00070")
    hk = api.login("xa.hk")
    r = api.client.post(f"/api/tickets/{code}/category", json={"category": "moi_truong"}, headers=hk)
    assert r.status_code == 200 and r.json()["category"] == "moi_truong"
    assert api.client.post(f"/api/tickets/{code}/category", json={"category": "bogus"}, headers=hk).status_code == 422
    out = tmp_path / "corrections.yml"
    with api.container.scope() as s:
        assert export_corrections(s, out) == 0  # waits for an admin's review (the NLU workbench)
    add_official(api.container, "quan.tri", "TW", "admin")
    pending = api.client.get("/api/nlu/corrections?status=pending", headers=api.login("quan.tri")).json()["data"]
    accepted = api.client.post(f"/api/nlu/corrections/{pending[0]['id']}/accept", headers=api.login("quan.tri"))
    assert accepted.status_code == 200, accepted.text
    with api.container.scope() as s:
        assert export_corrections(s, out) == 1
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert doc["version"] == "3.1"
    assert doc["nlu"] == [{"intent": "gui_phan_anh/moi_truong", "examples": "- Bãi rác tự phát bốc mùi ở Hoàn Kiếm\n"}]
    with api.container.scope() as s:
        assert export_corrections(s, out) == 0  # already exported
