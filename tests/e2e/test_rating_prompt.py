"""When an official answers (or closes) a ticket, the citizen is asked in the chat to rate the handling, and their
answer becomes the ticket's rating. End to end through the web chat, on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.db.models import Official, Ticket
from backend.services.security import hash_password
from tests.drain import wait_until_drained

CODE = re.compile(r"PA-[0-9A-Z]{4}-[0-9A-Z]{4}")
STARS = [f"stars:{n}" for n in range(1, 6)]
PASSWORD = "mat-khau-123"


@pytest.fixture
def app_client(backend_urls: tuple[str, str], trained_model_dir: Path) -> Iterator[tuple[TestClient, Container]]:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=backend_urls[0],
        redis_url=backend_urls[1],
        model_dir=trained_model_dir,
        run_workers=True,
    )
    container = Container(settings)
    with TestClient(create_app(settings, container)) as client:
        yield client, container
    container.close()


def say(client: TestClient, session: str, text: str = "", payload: str | None = None) -> list[dict[str, Any]]:
    r = client.post("/api/webchat/messages", json={"session": session, "text": text, "payload": payload})
    assert r.status_code == 200, r.text
    replies: list[dict[str, Any]] = r.json()["replies"]
    return replies


def file_ticket(client: TestClient, session: str) -> str:
    say(client, session, "xin chào")
    say(client, session, "Đồng ý", "consent:named")
    last = say(client, session, "Đèn đường ở phường Hoàn Kiếm, Hà Nội hỏng cả tháng nay, tối đi rất nguy hiểm")[-1]
    if any(b["payload"].startswith("category:") for b in last["buttons"]):  # the model was unsure: it asks
        last = say(client, session, "Hạ tầng", "category:ha_tang")[-1]
    assert any(b["payload"] == "confirm:send" for b in last["buttons"]), last
    match = CODE.search(say(client, session, "Gửi", "confirm:send")[-1]["text"])
    assert match
    return match.group(0)


def official(client: TestClient, container: Container, code: str) -> dict[str, str]:
    with container.scope() as s:
        unit = s.scalars(select(Ticket.unit_code).where(Ticket.code == code)).one()
        s.add(
            Official(username="canbo.hk", password_hash=hash_password("mat-khau-123"), role="officer", unit_code=unit)
        )
        s.commit()
    token = client.post("/api/auth/token", data={"username": "canbo.hk", "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def wait_for_rating_question(client: TestClient, session: str, after: int) -> tuple[dict[str, Any], list[str], int]:
    """Poll the chat (as the page does) until the question with the 1-5 buttons arrives."""
    deadline = time.monotonic() + 15
    received: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        page = client.get("/api/webchat/messages", params={"session": session, "after": after}).json()
        received += page["replies"]
        after = page["cursor"]
        for m in received:
            if [b["payload"] for b in m["buttons"]] == STARS:
                return m, [r["text"] for r in received], after
        time.sleep(0.1)
    raise AssertionError(f"no rating question in {[r['text'] for r in received]}")


def rating(container: Container, code: str) -> tuple[int | None, str | None, str]:
    with container.scope() as s:
        t = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        return t.rating, t.rating_comment, t.status


def test_answered_ticket_asks_for_a_rating_and_records_it(app_client: tuple[TestClient, Container]) -> None:
    client, container = app_client
    session = "e2e-rating-0001"
    code = file_ticket(client, session)
    auth = official(client, container, code)
    cursor = client.get("/api/webchat/messages", params={"session": session}).json()["cursor"]

    answer = "Phường đã thay bóng đèn trên tuyến phố, mời ông bà kiểm tra lại."
    assert client.post(f"/api/tickets/{code}/replies", json={"text": answer}, headers=auth).status_code == 201
    r = client.post(f"/api/tickets/{code}/status", json={"status": "da_tra_loi"}, headers=auth)
    assert r.status_code == 200, r.text

    question, received, _ = wait_for_rating_question(client, session, cursor)
    assert code in question["text"] and "1 đến 5 sao" in question["text"]
    assert [b["title"] for b in question["buttons"]] == [f"{n} sao" for n in range(1, 6)]
    assert any(answer in t for t in received)  # the answer and the status came first
    assert received.index(question["text"]) == len(received) - 1

    after_tap = say(client, session, "4 sao", "stars:4")
    assert "góp ý thêm" in after_tap[-1]["text"]
    thanks = say(client, session, "Bỏ qua", "skip")
    assert "4/5" in thanks[-1]["text"] and code in thanks[-1]["text"]
    assert rating(container, code) == (4, None, "da_tra_loi")

    # closing it later does not ask again: it has been rated
    cursor = client.get("/api/webchat/messages", params={"session": session}).json()["cursor"]
    assert client.post(f"/api/tickets/{code}/status", json={"status": "da_dong"}, headers=auth).status_code == 200
    wait_until_drained(container)
    texts = client.get("/api/webchat/messages", params={"session": session, "after": cursor}).json()["replies"]
    assert any(code in m["text"] for m in texts), texts  # the closing reached them
    assert not any(m["buttons"] for m in texts)  # no second rating question


def test_a_typed_number_rates_too_and_a_citizen_writing_a_report_is_not_interrupted(
    app_client: tuple[TestClient, Container],
) -> None:
    client, container = app_client
    busy, free = "e2e-rating-busy", "e2e-rating-free"
    code_busy, code_free = file_ticket(client, busy), file_ticket(client, free)
    auth = official(client, container, code_busy)
    say(client, busy, "Còn nữa, cống ở ngõ 12 phố Hàng Bạc bị tắc bốc mùi")  # a second report, being written
    state_before = container.conversation.states.load(f"conv:webchat:{busy}")
    assert state_before is not None and state_before["draft"] is not None
    cursors = {s: client.get("/api/webchat/messages", params={"session": s}).json()["cursor"] for s in (busy, free)}
    for code in (code_busy, code_free):
        r = client.post(f"/api/tickets/{code}/status", json={"status": "da_tra_loi"}, headers=auth)
        assert r.status_code == 200, r.text

    wait_for_rating_question(client, free, cursors[free])
    say(client, free, "5")  # the typed number chooses the fifth button
    say(client, free, "Cán bộ phường làm rất nhanh, cảm ơn")
    assert rating(container, code_free) == (5, "Cán bộ phường làm rất nhanh, cảm ơn", "da_tra_loi")

    wait_until_drained(container)
    told = client.get("/api/webchat/messages", params={"session": busy, "after": cursors[busy]}).json()["replies"]
    assert any(code_busy in m["text"] for m in told)  # the status change reached them
    assert not any(m["buttons"] for m in told)  # but no question cut into the report they are writing
    assert container.conversation.states.load(f"conv:webchat:{busy}") == state_before
    assert rating(container, code_busy)[0] is None
