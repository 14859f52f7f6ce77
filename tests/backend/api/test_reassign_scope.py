"""Reassigning never hands a complaint about a unit's own officials to that unit (the conflict-of-interest rule)."""

from __future__ import annotations

from sqlalchemy import select

from backend.db.models import Citizen, OutboxItem, Ticket
from handlers.ports import TicketDraft

from .conftest import Api, add_official


def _file(api: Api, category: str, commune: str | None, user: str = "w-1") -> str:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id=user, chat_id=user)
        s.add(citizen)
        s.flush()
        draft = TicketDraft(
            text="Cán bộ địa chính phường đòi tiền mới ký giấy",
            category=category,
            province_code="01",
            commune_code=commune,
        )
        code = api.container.ops.file(s, citizen, draft).code
        s.commit()
        return code


def _unit(api: Api, code: str) -> str:
    with api.container.scope() as s:
        return s.scalars(select(Ticket.unit_code).where(Ticket.code == code)).one()


def test_a_complaint_about_officials_is_not_handed_to_their_own_unit(api: Api) -> None:
    add_official(api.container, "tinh.hn", "01", "supervisor")
    sup = api.login("tinh.hn")
    code = _file(api, "can_bo_tham_nhung", "00070")
    assert _unit(api, code) == "01"  # routed one level above Hoàn Kiếm

    r = api.client.post(
        f"/api/tickets/{code}/reassign", json={"unit": "00070", "reason": "Để phường tự xử lý"}, headers=sup
    )
    assert r.status_code == 422 and "Phường Hoàn Kiếm" in r.json()["detail"]
    assert _unit(api, code) == "01"
    with api.container.scope() as s:
        assert list(s.scalars(select(OutboxItem))) == []

    # another committee is fine, and so is handing an ordinary report to the commune
    r = api.client.post(f"/api/tickets/{code}/reassign", json={"unit": "TW", "reason": "Vụ việc phức tạp"}, headers=sup)
    assert r.status_code == 200
    ordinary = _file(api, "ha_tang", None, user="w-2")
    r = api.client.post(
        f"/api/tickets/{ordinary}/reassign", json={"unit": "00070", "reason": "Thuộc phường"}, headers=sup
    )
    assert r.status_code == 200 and _unit(api, ordinary) == "00070"
