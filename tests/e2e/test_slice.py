"""The walking skeleton end to end over HTTP: a citizen's web chat message becomes a ticket, an official answers
from the API, and the answer reaches the citizen's web chat. Runs on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.db.models import Official
from backend.services.security import hash_password

CODE = re.compile(r"PA-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
def app_client(backend_urls: tuple[str, str], trained_model_dir: Path) -> Iterator[tuple[TestClient, Container]]:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=backend_urls[0],  # type: ignore[call-arg]
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
    assert replies, f"no reply to {text!r}"
    return replies


def test_citizen_to_official_and_back(app_client: tuple[TestClient, Container]) -> None:
    client, container = app_client
    session = "e2e-citizen-0001"

    hello = say(client, session, "xin chào")
    assert "Mặt trận" in hello[0]["text"]
    consent = hello[-1]
    assert "13/2023/NĐ-CP" in consent["text"]
    assert [b["payload"] for b in consent["buttons"]] == ["consent:named", "consent:anonymous", "consent:no"]

    assert "Cảm ơn" in say(client, session, "Đồng ý", "consent:named")[0]["text"]

    summary = say(client, session, "Đường ở phường Bến Nghé, quận 1 ngập nặng mấy hôm nay, xe máy chết máy hàng loạt")
    last = summary[-1]
    if any(b["payload"].startswith("category:") for b in last["buttons"]):  # the model was unsure: it asks
        assert "category:ha_tang" in [b["payload"] for b in last["buttons"]]
        last = say(client, session, "Hạ tầng", "category:ha_tang")[-1]
    assert "Phường Sài Gòn" in last["text"]  # the old address was mapped to the new ward
    assert any(b["payload"] == "confirm:send" for b in last["buttons"])

    filed = say(client, session, "1")  # typed number chooses the first button
    match = CODE.search(filed[-1]["text"])
    assert match, filed
    code = match.group(0)
    assert "Phường Sài Gòn" in filed[-1]["text"]

    with container.scope() as s:
        s.add(
            Official(
                username="canbo.saigon", password_hash=hash_password("mat-khau-123"), role="officer", unit_code="26740"
            )
        )
        s.commit()
    token = client.post("/api/auth/token", data={"username": "canbo.saigon", "password": "mat-khau-123"}).json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    listing = client.get("/api/tickets", headers=auth).json()
    assert listing["count"] == 1 and listing["data"][0]["code"] == code
    detail = client.get(f"/api/tickets/{code}", headers=auth).json()
    assert detail["unit"] == {"code": "26740", "name": "Phường Sài Gòn", "level": "commune"}
    assert detail["category"] == "ha_tang" and detail["intent"] == "gui_phan_anh"
    assert detail["routing_reason"] and detail["deadline"]
    assert any("Bến Nghé" in m["text"] for m in detail["conversation"] if m["direction"] == "in")

    cursor = client.get("/api/webchat/messages", params={"session": session}).json()["cursor"]
    answer = "Phường đã cử tổ công tác khơi thông cống trên đường, dự kiến xong trong tuần."
    r = client.post(f"/api/tickets/{code}/replies", json={"text": answer}, headers=auth)
    assert r.status_code == 201 and r.json()["status"] == "da_tiep_nhan"

    deadline = time.monotonic() + 15
    received: list[str] = []
    while time.monotonic() < deadline and not any(answer in t for t in received):
        time.sleep(0.2)
        page = client.get("/api/webchat/messages", params={"session": session, "after": cursor}).json()
        received += [m["text"] for m in page["replies"]]
    assert any(answer in t and code in t for t in received), received

    status = say(client, session, code.lower())
    assert "Đã tiếp nhận" in status[0]["text"] and code in status[0]["text"]
    other = say(client, "e2e-someone-else", code)  # someone else's code: never revealed
    assert any("Không tìm thấy" in m["text"] for m in other)
