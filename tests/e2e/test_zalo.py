"""Zalo end to end: signed webhook → stored once → conversation → reply through the outbox at a fake Zalo API;
token rotation with several outbox workers; citizens the OA may no longer message are flagged on the ticket."""

from __future__ import annotations

import json
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
from backend.db.models import Citizen, Credential, Message, Official, Ticket, TicketEvent
from backend.services.security import hash_password
from bot.zalo import expected_signature
from tests.drain import wait_until_drained
from tests.fakes.zalo_server import APP_ID, APP_SECRET, FakeZalo, fake_zalo
from tests.liveserver import wait_for

OA_SECRET = "oa-Secret-KEY-1"
BOT_SECRET = "zalobot-Secret-1"
CODE = re.compile(r"PA-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
def zl(backend_urls: tuple[str, str], trained_model_dir: Path) -> Iterator[tuple[TestClient, Container, FakeZalo]]:
    with fake_zalo() as fake:
        settings = Settings(
            _env_file=None,
            environment="test",
            database_url=backend_urls[0],  # type: ignore[call-arg]
            redis_url=backend_urls[1],
            model_dir=trained_model_dir,
            zalo_app_id=APP_ID,
            zalo_app_secret=APP_SECRET,
            zalo_oa_secret=OA_SECRET,
            zalo_access_token=fake.access_token,
            zalo_refresh_token=fake.refresh_token,
            zalo_api_url=fake.url,
            zalo_oauth_url=fake.url,
            zalobot_token=fake.bot_token,
            zalobot_secret=BOT_SECRET,
            zalobot_api_url=fake.bot_base_url,
            outbox_base_delay=0.05,
            outbox_max_delay=0.2,
        )
        container = Container(settings)
        with TestClient(create_app(settings, container)) as client:
            yield client, container, fake
        container.close()


_ids = iter(range(10_000, 99_999))


def event(text: str, user: str = "8291700012345678901", name: str = "user_send_text") -> dict[str, Any]:
    n = next(_ids)
    return {
        "app_id": APP_ID,
        "event_name": name,
        "timestamp": str(1795000000000 + n),
        "sender": {"id": user},
        "recipient": {"id": "2996011281712341234"},
        "message": {"msg_id": f"zmsg-in-{n}", "text": text},
    }


def post(client: TestClient, body: dict[str, Any], signature: str | None = "good") -> Any:
    raw = json.dumps(body, ensure_ascii=False).encode()
    headers = {"content-type": "application/json"}
    if signature == "good":
        headers["X-ZEvent-Signature"] = expected_signature(raw, OA_SECRET)
    elif signature is not None:
        headers["X-ZEvent-Signature"] = signature
    return client.post("/webhooks/zalo", content=raw, headers=headers)


def test_a_report_on_zalo_gets_a_ticket_code(zl: tuple[TestClient, Container, FakeZalo]) -> None:
    client, container, fake = zl
    assert post(client, event("xin chào")).json()["outcome"] == "accepted"
    wait_for(lambda: any("13/2023" in t for t in fake.texts()))
    consent = next(t for t in fake.texts() if "13/2023" in t)
    assert "1. " in consent  # buttons became a numbered menu
    post(client, event("1"))
    post(client, event("Cây xanh đổ chắn ngang đường ở phường Hoàn Kiếm, Hà Nội, xe không qua được"))
    wait_for(lambda: any("kiểm tra lại" in t or "lĩnh vực" in t for t in fake.texts()))
    if not any("kiểm tra lại" in t for t in fake.texts()):
        post(client, event("Hạ tầng"))
        wait_for(lambda: any("kiểm tra lại" in t for t in fake.texts()))
    post(client, event("1"))
    wait_for(lambda: any(CODE.search(t) for t in fake.texts()))
    filed = next(t for t in fake.texts() if CODE.search(t))
    with container.scope() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.channel == "zalo" and ticket.unit_code == "00070" and ticket.code in filed


def test_forged_or_missing_signature_is_refused_and_nothing_stored(
    zl: tuple[TestClient, Container, FakeZalo],
) -> None:
    client, container, fake = zl
    body = event("xin chào")
    raw = json.dumps(body).encode()
    wrong = expected_signature(raw, "not-the-secret")
    for sig in (None, "", "mac=", wrong, "mac=" + "0" * 64):
        assert post(client, body, sig).status_code == 401
    tampered = dict(body, message={"msg_id": "zz", "text": "khác"})
    r = client.post(
        "/webhooks/zalo",
        content=json.dumps(tampered).encode(),
        headers={"X-ZEvent-Signature": expected_signature(raw, OA_SECRET)},
    )
    assert r.status_code == 401
    with container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0
        assert s.scalar(select(func.count()).select_from(Citizen)) == 0
    assert fake.texts() == []


def test_redelivered_event_is_processed_once(zl: tuple[TestClient, Container, FakeZalo]) -> None:
    client, container, fake = zl
    body = event("xin chào", user="555")
    assert post(client, body).json()["outcome"] == "accepted"
    assert post(client, body).json()["outcome"] == "duplicate"
    wait_for(lambda: len(fake.texts("555")) >= 2)
    wait_until_drained(container)  # every reply delivered: nothing more can arrive, so the counts are final
    with container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1
    assert len([t for t in fake.texts("555") if "13/2023" in t]) == 1


def test_unknown_events_are_acknowledged_and_recorded(zl: tuple[TestClient, Container, FakeZalo]) -> None:
    client, container, _ = zl
    r = post(client, {"app_id": APP_ID, "event_name": "oa_connection_revoked", "timestamp": "1795000000000"})
    assert r.status_code == 200 and r.json()["outcome"] == "ignored:oa_connection_revoked"
    with container.scope() as s:
        row = s.scalars(select(Message)).one()
        assert row.kind == "ignored" and row.processed_at is not None


def test_expired_token_is_refreshed_once_with_several_workers(zl: tuple[TestClient, Container, FakeZalo]) -> None:
    client, container, fake = zl
    fake.refresh_delay = 0.3
    fake.expire_access_token()
    for i in range(6):
        post(client, event("xin chào", user=f"u{i}"))
    wait_for(lambda: len([t for t in fake.texts() if "13/2023" in t]) == 6, seconds=30)
    assert fake.refreshes == 1 and fake.refused_refreshes == 0
    with container.scope() as s:
        stored = s.get(Credential, "zalo_oa")
        assert stored is not None and stored.data["refresh_token"] == fake.refresh_token


def test_5xx_for_a_while_still_delivers_exactly_once(zl: tuple[TestClient, Container, FakeZalo]) -> None:
    client, container, fake = zl
    fake.fail(502, times=3)
    post(client, event("xin chào", user="777"))
    wait_for(lambda: any("13/2023" in t for t in fake.texts("777")), seconds=30)
    wait_until_drained(container)
    assert len([t for t in fake.texts("777") if t.startswith("Xin chào Ông/Bà")]) == 1
    assert fake.cs_attempts >= len(fake.texts()) + 3


def test_citizen_the_oa_may_not_message_is_flagged_on_the_ticket(
    zl: tuple[TestClient, Container, FakeZalo],
) -> None:
    client, container, fake = zl
    post(client, event("xin chào", user="888"))
    wait_for(lambda: any("13/2023" in t for t in fake.texts("888")))
    post(client, event("1", user="888"))
    post(client, event("Rác thải đổ trộm ven sông ở phường Hoàn Kiếm, Hà Nội bốc mùi nồng nặc", user="888"))
    wait_for(lambda: any("kiểm tra lại" in t or "lĩnh vực" in t for t in fake.texts("888")))
    if not any("kiểm tra lại" in t for t in fake.texts("888")):
        post(client, event("Môi trường", user="888"))
        wait_for(lambda: any("kiểm tra lại" in t for t in fake.texts("888")))
    post(client, event("1", user="888"))
    wait_for(lambda: any(CODE.search(t) for t in fake.texts("888")))
    with container.scope() as s:
        ticket = s.scalars(select(Ticket)).one()
        s.add(
            Official(
                username="canbo.hk",
                password_hash=hash_password("mat-khau-123"),
                role="officer",
                unit_code=ticket.unit_code,
            )
        )
        s.commit()
    fake.not_interacted.add("888")  # more than 7 days pass without the citizen writing again
    token = client.post("/api/auth/token", data={"username": "canbo.hk", "password": "mat-khau-123"}).json()
    r = client.post(
        f"/api/tickets/{ticket.code}/replies",
        json={"text": "Phường đã cho thu gom rác."},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert r.status_code == 201

    def flagged() -> bool:
        with container.scope() as s:
            return (
                s.scalar(
                    select(func.count())
                    .select_from(TicketEvent)
                    .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "undelivered")
                )
                == 1
            )

    wait_for(flagged, seconds=30)
    with container.scope() as s:
        note = s.scalars(select(TicketEvent.note).where(TicketEvent.kind == "undelivered")).one()
        assert "chưa tương tác" in note


def test_zalo_bot_platform_end_to_end(zl: tuple[TestClient, Container, FakeZalo]) -> None:
    client, container, fake = zl
    body = {
        "ok": True,
        "result": {
            "event_name": "message.text.received",
            "message": {
                "message_id": "zb-1",
                "date": 1795000000000,
                "text": "xin chào",
                "from": {"id": "zb-user-9", "display_name": "Bình", "is_bot": False},
                "chat": {"id": "zb-user-9", "chat_type": "PRIVATE"},
            },
        },
    }
    assert client.post("/webhooks/zalobot", json=body, headers={"X-Bot-Api-Secret-Token": "nope"}).status_code == 403
    r = client.post("/webhooks/zalobot", json=body, headers={"X-Bot-Api-Secret-Token": BOT_SECRET})
    assert r.json()["outcome"] == "accepted"
    assert (
        client.post("/webhooks/zalobot", json=body, headers={"X-Bot-Api-Secret-Token": BOT_SECRET}).json()["outcome"]
        == "duplicate"
    )
    wait_for(lambda: any("13/2023" in p["text"] for p in fake.bot_sent))
    assert all(p["chat_id"] == "zb-user-9" for p in fake.bot_sent)
    with container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 1
