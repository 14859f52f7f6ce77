"""The web chat through its API, on SQLite and PostgreSQL: a reloaded page gets the whole conversation back (ticket
code included), the browser's position answers "where?", a button from an earlier step is told it has passed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.db.models import Message, Ticket
from nlu.vocab import MAX_TEXT

CODE = re.compile(r"PA-[0-9A-Z]{4}-[0-9A-Z]{4}")
SESSION = "e2e-webchat-0001"
STREETLIGHT = "Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm"


@pytest.fixture
def app_client(backend_urls: tuple[str, str], trained_model_dir: Path) -> Iterator[tuple[TestClient, Container]]:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=backend_urls[0],
        redis_url=backend_urls[1],
        model_dir=trained_model_dir,
        run_workers=False,
    )
    container = Container(settings)
    with TestClient(create_app(settings, container)) as client:
        yield client, container
    container.close()


def post(client: TestClient, **body: Any) -> list[dict[str, Any]]:
    r = client.post("/api/webchat/messages", json={"session": SESSION, **body})
    assert r.status_code == 200, r.text
    replies: list[dict[str, Any]] = r.json()["replies"]
    return replies


def until_confirmation(client: TestClient, text: str) -> list[dict[str, Any]]:
    post(client, text="xin chào")
    post(client, text="Đồng ý", payload="consent:named")
    replies = post(client, text=text)
    if any(b["payload"].startswith("category:") for r in replies for b in r["buttons"]):  # the model asks
        replies = post(client, text="Hạ tầng, điện, nước", payload="category:ha_tang")
    return replies


def history(client: TestClient) -> dict[str, Any]:
    r = client.get("/api/webchat/messages", params={"history": "true"}, headers={"X-Chat-Session": SESSION})
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


def test_a_reloaded_page_gets_the_whole_conversation(app_client: tuple[TestClient, Container]) -> None:
    client, _ = app_client
    until_confirmation(client, "Cây đổ chắn ngang đường ở phường Hoàn Kiếm, Hà Nội, xe không qua được")
    filed = post(client, text="Gửi phản ánh", payload="confirm:send")
    code = CODE.search(filed[-1]["text"])
    assert code
    page = history(client)
    texts = [(m["author"], m["text"]) for m in page["replies"]]
    assert texts[0] == ("citizen", "xin chào")
    assert ("citizen", "Cây đổ chắn ngang đường ở phường Hoàn Kiếm, Hà Nội, xe không qua được") in texts
    assert texts[-2] == ("citizen", "Gửi phản ánh") and code.group(0) in texts[-1][1]
    assert [m["id"] for m in page["replies"]] == sorted(m["id"] for m in page["replies"])
    assert not [m for m in page["replies"] if m["author"] == "citizen" and m["buttons"]]
    # the cursor is the last message sent to the citizen: polling from it gets nothing twice
    assert page["cursor"] == page["replies"][-1]["id"]
    polled = client.get("/api/webchat/messages", params={"after": page["cursor"]}, headers={"X-Chat-Session": SESSION})
    assert polled.json()["replies"] == []
    # without ``history`` the page still gets only what was sent to the citizen
    plain = client.get("/api/webchat/messages", headers={"X-Chat-Session": SESSION}).json()
    assert plain["replies"] and all(m["author"] != "citizen" for m in plain["replies"])


def test_an_unknown_session_has_no_history(app_client: tuple[TestClient, Container]) -> None:
    client, _ = app_client
    r = client.get("/api/webchat/messages", params={"history": "true"}, headers={"X-Chat-Session": "khong-co-ai-1"})
    assert r.status_code == 404 and "không tồn tại" in r.json()["detail"]


def test_the_browser_position_answers_where(app_client: tuple[TestClient, Container]) -> None:
    client, container = app_client
    asked = until_confirmation(client, STREETLIGHT)
    assert "ở đâu" in asked[-1]["text"]
    assert [b["payload"] for b in asked[-1]["buttons"]] == ["location:share", "location:skip"]
    summary = post(client, latitude=21.02851, longitude=105.85427)
    assert "vị trí 21.02851, 105.85427" in summary[-1]["text"]
    assert "Nội dung: " + STREETLIGHT + "\n" in summary[-1]["text"]
    post(client, text="Gửi phản ánh", payload="confirm:send")
    with container.scope() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert (ticket.latitude, ticket.longitude) == (21.02851, 105.85427) and ticket.text == STREETLIGHT


@pytest.mark.parametrize(
    "body",
    [
        {"latitude": 21.0},
        {"longitude": 105.8},
        {"latitude": 91, "longitude": 105.8},
        {"latitude": 21, "longitude": 181},
    ],
)
def test_a_half_or_impossible_position_is_refused_and_stores_nothing(
    app_client: tuple[TestClient, Container], body: dict[str, float]
) -> None:
    client, container = app_client
    r = client.post("/api/webchat/messages", json={"session": SESSION, **body})
    assert r.status_code == 422
    with container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_a_button_from_an_earlier_step_has_passed(app_client: tuple[TestClient, Container]) -> None:
    client, _ = app_client
    until_confirmation(client, "Cây đổ chắn ngang đường ở phường Hoàn Kiếm, Hà Nội, xe không qua được")
    again = post(client, text="Gửi ẩn danh", payload="consent:anonymous")
    assert "Câu hỏi đó đã qua" in again[0]["text"] and "kiểm tra lại" in again[-1]["text"]
    assert [b["payload"] for b in again[-1]["buttons"]][:3] == ["confirm:send", "confirm:edit", "confirm:place"]


def test_the_text_box_takes_the_shared_limit(app_client: tuple[TestClient, Container]) -> None:
    client, _ = app_client
    page = client.get("/chat").text
    assert f'maxlength="{MAX_TEXT}"' in page and "{{" not in page
