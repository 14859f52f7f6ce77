"""A ticket shows only its own messages; citizens never see officials' login names; one "send", one ticket.

Whole conversations run through the web chat API (deterministic NLU and texts from ``conftest``), then an official
opens the ticket through the JSON API and the console. Runs on SQLite and on PostgreSQL + Redis.
"""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

from sqlalchemy import func, select, update

from backend.db.models import Citizen, Ticket, TicketEvent
from backend.workers.outbox import OutboxWorker
from handlers.ports import CitizenRef, TicketDraft, TicketError

from .conftest import Api, add_official

CODE = re.compile(r"PA-[0-9A-Z]{4}-[0-9A-Z]{4}")
PHONE = "0912345678"
NAME = "Nguyễn Văn Bình"


def say(api: Api, session: str, text: str = "", payload: str | None = None) -> list[dict[str, Any]]:
    r = api.client.post("/api/webchat/messages", json={"session": session, "text": text, "payload": payload})
    assert r.status_code == 200, r.text
    replies: list[dict[str, Any]] = r.json()["replies"]
    return replies


def code_in(replies: list[dict[str, Any]]) -> str:
    match = CODE.search("\n".join(r["text"] for r in replies))
    assert match, replies
    return match.group(0)


def deliver(api: Api) -> None:
    """Run the outbox once: web chat items become the outbound ``Message`` rows the citizen polls."""
    asyncio.run(OutboxWorker(api.container.scope, {}).run_once())


def console_login(api: Api, username: str) -> None:
    r = api.client.post(
        "/console/login", data={"username": username, "password": "mat-khau-123"}, follow_redirects=False
    )
    assert r.status_code == 303


def two_tickets(api: Api, session: str = "privacy-citizen-1") -> tuple[str, str]:
    """A citizen files a named report Y in Sài Gòn (with a phone number), talks with its official, withdraws
    consent, and files an anonymous report X in Hoàn Kiếm. Returns (X, Y)."""
    say(api, session, "/start")
    say(api, session, "Đồng ý", "consent:named")
    say(api, session, "Cống ở Sài Gòn bốc mùi nồng nặc suốt tuần")
    say(api, session, PHONE)  # the contact number, at the summary
    named = code_in(say(api, session, "Gửi phản ánh", "confirm:send"))
    with api.container.scope() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == session)).one()
        citizen.display_name = NAME
        ticket = s.scalars(select(Ticket).where(Ticket.code == named)).one()
        assert ticket.phone == PHONE and not ticket.anonymous
        s.commit()
    add_official(api.container, "xa.sg", "26734")
    r = api.client.post(
        f"/api/tickets/{named}/replies", json={"text": "Phường Sài Gòn sẽ nạo vét cống"}, headers=api.login("xa.sg")
    )
    assert r.status_code == 201
    deliver(api)
    say(api, session, "Cảm ơn, cống ở đầu hẻm 12 Sài Gòn")  # the handoff: goes to the official of Y
    with api.container.scope() as s:  # half an hour later
        s.execute(update(Ticket).where(Ticket.code == named).values(handoff_until=None))
        s.commit()
    say(api, session, "/help")
    say(api, session, "rút đồng ý")
    say(api, session, "Đèn đường ở Hoàn Kiếm hỏng cả tháng nay")
    say(api, session, "Gửi ẩn danh", "consent:anonymous")
    anonymous = code_in(say(api, session, "Gửi phản ánh", "confirm:send"))
    say(api, session, anonymous)  # status look-up of that code
    say(api, session, "/start")  # a greeting: belongs to no ticket
    return anonymous, named


def test_a_ticket_shows_only_its_own_messages_via_api_and_console(api: Api) -> None:
    x, y = two_tickets(api)
    add_official(api.container, "xa.hk", "00070")
    detail = api.client.get(f"/api/tickets/{x}", headers=api.login("xa.hk")).json()
    shown = str(detail)
    leaks = [s for s in (y, PHONE, NAME, "Sài Gòn", "bốc mùi", "nạo vét", "hẻm 12", "help|", "greeting|") if s in shown]
    assert leaks == []
    texts = [m["text"] for m in detail["conversation"]]
    assert "Đèn đường ở Hoàn Kiếm hỏng cả tháng nay" in texts  # the messages that built it do appear
    assert any(t.startswith("summary|") for t in texts) and any(t.startswith("filed|") for t in texts)
    assert x in texts  # the status look-up of its own code

    console_login(api, "xa.hk")
    page = api.client.get(f"/console/tickets/{x}")
    assert page.status_code == 200 and "Đèn đường ở Hoàn Kiếm hỏng cả tháng nay" in page.text
    assert [s for s in (y, PHONE, NAME, "Sài Gòn", "bốc mùi", "nạo vét", "hẻm 12") if s in page.text] == []


def test_the_named_ticket_keeps_its_own_exchanges(api: Api) -> None:
    x, y = two_tickets(api)
    detail = api.client.get(f"/api/tickets/{y}", headers=api.login("xa.sg")).json()
    texts = "\n".join(m["text"] for m in detail["conversation"])
    assert "Cống ở Sài Gòn bốc mùi nồng nặc suốt tuần" in texts and PHONE in texts
    assert "nạo vét" in texts  # the official's reply, written by the outbox worker
    assert "Cảm ơn, cống ở đầu hẻm 12 Sài Gòn" in texts  # the handoff message
    assert [o for o in (x, "Đèn đường", "help|", "greeting|", "consent_withdrawn|") if o in texts] == []


def test_anonymous_ticket_shows_no_contact(api: Api) -> None:
    session = "privacy-anon-1"
    say(api, session, "/start")
    say(api, session, "Gửi ẩn danh", "consent:anonymous")
    with api.container.scope() as s:  # known from an earlier named report
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == session)).one()
        citizen.display_name, citizen.phone = NAME, PHONE
        s.commit()
    summary = say(api, session, "Đèn đường ở Hoàn Kiếm hỏng")
    assert "contact=summary_contact_anonymous" in summary[-1]["text"]
    code = code_in(say(api, session, "Gửi phản ánh", "confirm:send"))
    add_official(api.container, "xa.hk", "00070")
    detail = api.client.get(f"/api/tickets/{code}", headers=api.login("xa.hk")).json()
    shown = str(detail)
    assert PHONE not in shown and NAME not in shown
    assert "Đèn đường ở Hoàn Kiếm hỏng" in shown


def test_citizens_never_see_an_officials_login_name(api: Api) -> None:
    session = "privacy-author-1"
    say(api, session, "/start")
    say(api, session, "Đồng ý", "consent:named")
    say(api, session, "Đèn đường ở Hoàn Kiếm hỏng")
    code = code_in(say(api, session, "Gửi phản ánh", "confirm:send"))
    add_official(api.container, "nguyen.van.canbo", "00070")
    auth = api.login("nguyen.van.canbo")
    assert (
        api.client.post(f"/api/tickets/{code}/replies", json={"text": "Đã tiếp nhận"}, headers=auth).status_code == 201
    )
    r = api.client.post(f"/api/tickets/{code}/status", json={"status": "dang_xu_ly"}, headers=auth)
    assert r.status_code == 200
    deliver(api)
    poll = api.client.get("/api/webchat/messages", params={"session": session})
    assert poll.status_code == 200 and "nguyen.van.canbo" not in poll.text
    authors = {m["author"] for m in poll.json()["replies"]}
    assert authors == {"bot", "Phường Hoàn Kiếm"}
    detail = api.client.get(f"/api/tickets/{code}", headers=auth).json()  # the console still knows who did it
    assert any(e["actor"] == "nguyen.van.canbo" and e["kind"] == "reply" for e in detail["events"])


def test_pressing_send_twice_files_one_ticket(api: Api) -> None:
    session = "double-send-1"
    say(api, session, "/start")
    say(api, session, "Đồng ý", "consent:named")
    say(api, session, "Đèn đường ở Hoàn Kiếm hỏng")
    first = code_in(say(api, session, "Gửi phản ánh", "confirm:send"))
    again = say(api, session, "Gửi phản ánh", "confirm:send")
    assert code_in(again) == first and again[0]["text"].startswith("already_filed|")
    say(api, session, "Cống ở Sài Gòn tắc")
    second = code_in(say(api, session, "gửi"))
    assert second != first
    assert code_in(say(api, session, "gửi")) == second  # typed, not pressed
    with api.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2


def test_concurrent_filings_of_one_draft_make_one_ticket(api: Api) -> None:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id="concurrent-1", chat_id="concurrent-1")
        s.add(citizen)
        s.commit()
        ref = CitizenRef(citizen.id, "webchat", "concurrent-1")
    draft = TicketDraft(
        text="Đèn đường hỏng", category="ha_tang", province_code="01", commune_code="00070", draft_id="d-concurrent"
    )
    codes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def confirm() -> None:
        barrier.wait()
        try:
            codes.append(api.container.tickets.file(ref, draft).code)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=confirm) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(codes) == 4 and len(set(codes)) == 1
    with api.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
        created = s.scalars(select(TicketEvent).where(TicketEvent.kind == "created")).one()
        assert created.data.get("draft_id") == "d-concurrent"


def test_tickets_per_citizen_per_hour_are_limited(api: Api) -> None:
    from backend.services.citizen_port import TICKETS_PER_HOUR

    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id="busy-1", chat_id="busy-1")
        s.add(citizen)
        s.commit()
        ref = CitizenRef(citizen.id, "webchat", "busy-1")

    def draft(n: int) -> TicketDraft:
        return TicketDraft(text=f"Phản ánh số {n}", category="ha_tang", province_code="01", draft_id=f"busy-{n}")

    codes = [api.container.tickets.file(ref, draft(n)).code for n in range(TICKETS_PER_HOUR.count)]
    assert api.container.tickets.file(ref, draft(0)).code == codes[0]  # a repeat is not a new ticket
    try:
        api.container.tickets.file(ref, draft(99))
    except TicketError as exc:
        assert exc.code == "rate_limited" and exc.retry_after and exc.retry_after > 0
    else:
        raise AssertionError("the ticket over the limit was filed")
    with api.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == TICKETS_PER_HOUR.count
