"""Assigning a ticket to one official: who may assign whom, the history event, the audit, the list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from backend.db.models import AuditLog, Citizen, Official, Ticket, TicketEvent
from handlers.ports import TicketDraft

from .conftest import Api, add_official


def _file(api: Api, province: str, commune: str) -> str:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id=f"w-{commune}", chat_id="c")
        s.add(citizen)
        s.flush()
        draft = TicketDraft(text="Cống tắc", category="ha_tang", province_code=province, commune_code=commune)
        code = api.container.ops.file(s, citizen, draft).code
        s.commit()
        return code


def _assign(api: Api, code: str, username: str | None, headers: dict[str, str]) -> tuple[int, Any]:
    r = api.client.post(f"/api/tickets/{code}/assign", json={"username": username}, headers=headers)
    return r.status_code, r.json()


def _state(api: Api, code: str) -> tuple[str | None, int, int]:
    """(assignee, number of "assigned" events, number of "assign" audit records)."""
    with api.container.scope() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        events = s.scalar(
            select(func.count()).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "assigned")
        )
        audits = s.scalar(select(func.count()).where(AuditLog.action == "assign", AuditLog.object_id == code))
        return ticket.assignee, events or 0, audits or 0


def test_an_officer_takes_a_ticket_and_gives_it_back(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "xa.hk2", "00070")
    code = _file(api, "01", "00070")
    hk = api.login("xa.hk")

    status, body = _assign(api, code, "xa.hk", hk)
    assert status == 200 and body["assignee"] == "xa.hk"
    event = [e for e in body["events"] if e["kind"] == "assigned"]
    assert len(event) == 1 and event[0]["actor"] == "xa.hk" and not event[0]["public"]
    assert _state(api, code) == ("xa.hk", 1, 1)
    listed = api.client.get("/api/tickets", headers=hk).json()["data"]
    assert listed[0]["code"] == code and listed[0]["assignee"] == "xa.hk"  # shown on the list

    assert _assign(api, code, "xa.hk", hk)[0] == 200  # again: nothing changes, nothing recorded
    assert _state(api, code) == ("xa.hk", 1, 1)

    status, body = _assign(api, code, "xa.hk2", hk)  # an officer cannot give it to a colleague
    assert status == 422 and "tự nhận" in str(body["detail"])
    assert _state(api, code) == ("xa.hk", 1, 1)
    status, body = _assign(api, code, None, api.login("xa.hk2"))  # nor take it away from one
    assert status == 422
    assert _state(api, code) == ("xa.hk", 1, 1)

    status, body = _assign(api, code, None, hk)  # giving one's own ticket back
    assert status == 200 and body["assignee"] is None
    assert _state(api, code) == (None, 2, 2)


def test_a_supervisor_assigns_officials_of_the_unit_or_above_in_scope(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "xa.cn", "00073")
    add_official(api.container, "tinh.hn", "01", "supervisor")
    add_official(api.container, "tinh.hn2", "01")
    add_official(api.container, "tinh.hcm", "79", "supervisor")
    add_official(api.container, "tw.admin", "TW", "admin")
    add_official(api.container, "xa.nghi", "00070")
    with api.container.scope() as s:
        s.scalars(select(Official).where(Official.username == "xa.nghi")).one().active = False
        s.commit()
    code = _file(api, "01", "00070")
    sup = api.login("tinh.hn")

    assert _assign(api, code, "xa.hk", sup)[1]["assignee"] == "xa.hk"  # the ticket's unit
    assert _assign(api, code, "tinh.hn2", sup)[1]["assignee"] == "tinh.hn2"  # a unit above it
    for wrong in ("xa.cn", "tinh.hcm", "tw.admin", "xa.nghi", "khong.co"):
        # another commune; another province; above the supervisor's scope; inactive; nobody
        status, body = _assign(api, code, wrong, sup)
        assert status == 422 and "không phải cán bộ" in str(body["detail"]), (wrong, body)
    assert _state(api, code) == ("tinh.hn2", 2, 2)
    assert _assign(api, code, "tw.admin", api.login("tw.admin"))[1]["assignee"] == "tw.admin"

    status, _ = _assign(api, code, "tinh.hcm", api.login("tinh.hcm"))  # another province: no such ticket
    assert status == 404
    assert _state(api, code) == ("tw.admin", 3, 3)


def test_closed_tickets_and_bad_bodies_change_nothing(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    code = _file(api, "01", "00070")
    hk = api.login("xa.hk")
    for body in ({}, {"user": "xa.hk"}, {"username": "xa.hk", "extra": 1}, {"username": 5}, {"username": "x" * 65}):
        r = api.client.post(f"/api/tickets/{code}/assign", json=body, headers=hk)
        assert r.status_code == 422, body
    assert (
        api.client.post("/api/tickets/PA-0000-0000/assign", json={"username": "xa.hk"}, headers=hk).status_code == 404
    )
    with api.container.scope() as s:
        s.scalars(select(Ticket).where(Ticket.code == code)).one().status = "da_dong"
        s.commit()
    status, body = _assign(api, code, "xa.hk", hk)
    assert status == 409 and "đã đóng" in str(body["detail"])
    assert _state(api, code) == (None, 0, 0)
