"""The use-case layer: the JSON API and the console run the same use cases (visibility, operation, audit, commit),
and every status change a citizen or gopy makes goes through ``check_transition``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.db.models import AuditLog, Citizen, Official, Ticket, TicketEvent
from backend.domain import statuses as st
from backend.services.usecases import Refused, TicketCases, TicketNotFound
from handlers.ports import CitizenRef, TicketDraft, TicketError

from .conftest import Api, add_official

CASES = ["list", "view", "reply", "change_status", "reassign", "add_note", "correct_category"]


def _file(api: Api, user: str = "uc-1", commune: str = "00070") -> tuple[str, CitizenRef]:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id=user, chat_id=user)
        s.add(citizen)
        s.flush()
        draft = TicketDraft(text="Đèn đường hỏng", category="ha_tang", province_code="01", commune_code=commune)
        code = api.container.ops.file(s, citizen, draft).code
        s.commit()
        return code, CitizenRef(citizen.id, "webchat", user, user)


def _set_status(api: Api, code: str, status: str) -> None:
    with api.container.scope() as s:
        s.scalars(select(Ticket).where(Ticket.code == code)).one().status = status
        s.commit()


def _csrf(api: Api, username: str) -> str:
    api.client.post("/console/login", data={"username": username, "password": "mat-khau-123"})
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', api.client.get("/console").text)
    assert match
    return match.group(1)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records every use case run (by name), whichever route ran it."""
    seen: list[str] = []
    for name in CASES:
        original: Callable[..., Any] = getattr(TicketCases, name)

        def spy(self: TicketCases, *args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            seen.append(_name)
            return _original(self, *args, **kw)

        monkeypatch.setattr(TicketCases, name, spy)
    yield seen


def test_api_and_console_run_the_same_use_cases(api: Api, calls: list[str]) -> None:
    add_official(api.container, "xa.hk", "00070")
    code, _ = _file(api)
    headers = api.login("xa.hk")
    assert api.client.get("/api/tickets", headers=headers).status_code == 200
    assert api.client.get(f"/api/tickets/{code}", headers=headers).status_code == 200
    assert api.client.post(f"/api/tickets/{code}/replies", json={"text": "Đã nhận"}, headers=headers).status_code == 201
    r = api.client.post(f"/api/tickets/{code}/status", json={"status": "dang_xu_ly"}, headers=headers)
    assert r.status_code == 200
    assert api.client.post(f"/api/tickets/{code}/notes", json={"text": "nội bộ"}, headers=headers).status_code == 201
    r = api.client.post(f"/api/tickets/{code}/category", json={"category": "moi_truong"}, headers=headers)
    assert r.status_code == 200
    r = api.client.post(
        f"/api/tickets/{code}/reassign", json={"unit": "00073", "reason": "sai địa bàn"}, headers=headers
    )
    assert r.status_code == 200
    from_api, calls[:] = list(calls), []

    code, _ = _file(api, "uc-2")
    csrf = _csrf(api, "xa.hk")
    calls[:] = []
    assert api.client.get("/console").status_code == 200
    assert api.client.get(f"/console/tickets/{code}").status_code == 200
    post = {"follow_redirects": False}
    assert api.client.post(f"/console/tickets/{code}/reply", data={"text": "Đã nhận", "csrf": csrf}, **post).is_redirect
    r = api.client.post(f"/console/tickets/{code}/status", data={"status": "dang_xu_ly", "csrf": csrf}, **post)
    assert r.headers["location"].endswith("msg=status_changed")
    r = api.client.post(f"/console/tickets/{code}/note", data={"text": "nội bộ", "csrf": csrf}, **post)
    assert r.headers["location"].endswith("msg=note_added")
    r = api.client.post(f"/console/tickets/{code}/category", data={"category": "moi_truong", "csrf": csrf}, **post)
    assert r.headers["location"].endswith("msg=category_corrected")
    data = {"unit": "Phường Cửa Nam — Thành phố Hà Nội", "reason": "sai địa bàn", "csrf": csrf, "confirm": "1"}
    r = api.client.post(f"/console/tickets/{code}/reassign", data=data, **post)
    assert r.headers["location"] == "/console?msg=reassigned"

    expected = ["list", "view", "reply", "change_status", "add_note", "correct_category", "reassign"]
    assert from_api == expected
    assert calls == expected


def test_a_use_case_checks_visibility_audits_and_commits(api: Api) -> None:
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "xa.sg", "26734")
    code, _ = _file(api)
    cases = api.container.cases
    with api.container.scope() as s:
        stranger = s.scalars(select(Official).where(Official.username == "xa.sg")).one()
        with pytest.raises(TicketNotFound):
            cases.view(s, stranger, code)
        with pytest.raises(TicketNotFound):
            cases.change_status(s, stranger, code, st.DANG_XU_LY, None)
        own = s.scalars(select(Official).where(Official.username == "xa.hk")).one()
        view = cases.change_status(s, own, code, st.DANG_XU_LY, None)
        assert view.code == code and view.detail.status == st.DANG_XU_LY
        assert view.next_statuses == sorted(st.TRANSITIONS[st.DANG_XU_LY])
        with pytest.raises(Refused) as refused:
            cases.change_status(s, own, code, st.MOI, None)
        assert refused.value.conflict and refused.value.code == code
        with pytest.raises(Refused) as refused:
            cases.change_status(s, own, code, "xong", None)
        assert not refused.value.conflict
    with api.container.scope() as s:  # committed by the use case, in another session
        assert s.scalars(select(Ticket).where(Ticket.code == code)).one().status == st.DANG_XU_LY
        audited = s.scalars(select(AuditLog).where(AuditLog.action == "status")).all()
        assert [(a.actor, a.object_id, a.detail["new"]) for a in audited] == [("xa.hk", code, st.DANG_XU_LY)]
        assert (s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.actor == "xa.sg")) or 0) == 0


@pytest.fixture
def transitions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Records every (old, new, actor) checked by ``check_transition``."""
    seen: list[tuple[str, str, str]] = []
    original = st.check_transition

    def spy(old: str, new: str, note: str | None, *, actor: str = st.OFFICIAL) -> None:
        seen.append((old, new, actor))
        original(old, new, note, actor=actor)

    monkeypatch.setattr(st, "check_transition", spy)
    return seen


def test_the_citizens_withdrawal_goes_through_the_transition_table(
    api: Api, transitions: list[tuple[str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, citizen = _file(api)
    _set_status(api, code, st.DA_CHUYEN)
    # the rule lives in the table: forbid withdrawing a forwarded ticket there, and the chat refuses it
    table = {**st.CITIZEN_TRANSITIONS, st.DA_CHUYEN: frozenset()}
    monkeypatch.setitem(st.BY_ACTOR, st.CITIZEN, table)
    with pytest.raises(TicketError) as refused:
        api.container.tickets.withdraw(citizen, code, "đã tự giải quyết")
    assert refused.value.code == "closed"
    monkeypatch.setitem(st.BY_ACTOR, st.CITIZEN, st.CITIZEN_TRANSITIONS)
    summary = api.container.tickets.withdraw(citizen, code, "đã tự giải quyết")
    assert summary.status == st.TU_CHOI
    assert transitions == [(st.DA_CHUYEN, st.TU_CHOI, st.CITIZEN)] * 2
    with api.container.scope() as s:
        event = s.scalars(select(TicketEvent).where(TicketEvent.kind == "status")).one()
        assert (event.actor_type, event.old_status, event.new_status) == ("citizen", st.DA_CHUYEN, st.TU_CHOI)
        assert event.note == "Người dân rút phản ánh: đã tự giải quyết" and event.public


@pytest.mark.parametrize("status", [st.DA_TRA_LOI, st.DA_DONG, st.TU_CHOI])
def test_an_answered_or_final_ticket_cannot_be_withdrawn(api: Api, status: str) -> None:
    code, citizen = _file(api)
    _set_status(api, code, status)
    with pytest.raises(TicketError) as refused:
        api.container.tickets.withdraw(citizen, code, None)
    assert refused.value.code == "closed"
    with api.container.scope() as s:
        assert s.scalars(select(Ticket).where(Ticket.code == code)).one().status == status


def test_information_asked_for_and_a_low_rating_go_through_the_transition_table(
    api: Api, transitions: list[tuple[str, str, str]]
) -> None:
    code, citizen = _file(api)
    _set_status(api, code, st.CAN_BO_SUNG)
    assert api.container.tickets.add_info(citizen, code, "Ở đầu ngõ 12").status == st.DANG_XU_LY
    _set_status(api, code, st.DA_TRA_LOI)
    assert api.container.tickets.rate(citizen, code, 1, "chưa sửa").status == st.DANG_XU_LY
    assert transitions == [(st.CAN_BO_SUNG, st.DANG_XU_LY, st.SYSTEM), (st.DA_TRA_LOI, st.DANG_XU_LY, st.SYSTEM)]
    with api.container.scope() as s:
        events = s.scalars(select(TicketEvent).where(TicketEvent.kind == "status").order_by(TicketEvent.id)).all()
        assert [(e.actor_type, e.actor_id, e.public) for e in events] == [
            ("system", "citizen_info", True),
            ("system", "rating", False),
        ]


def test_the_first_reply_accepts_through_the_transition_table(
    api: Api, transitions: list[tuple[str, str, str]]
) -> None:
    add_official(api.container, "xa.hk", "00070")
    code, _ = _file(api)
    r = api.client.post(f"/api/tickets/{code}/replies", json={"text": "Đã nhận"}, headers=api.login("xa.hk"))
    assert r.status_code == 201 and r.json()["status"] == st.DA_TIEP_NHAN
    assert transitions == [(st.MOI, st.DA_TIEP_NHAN, st.OFFICIAL)]
