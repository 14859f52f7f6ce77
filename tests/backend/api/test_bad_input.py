"""Bad input and abuse at the HTTP edge: body limits, crafted JSON, odd numbers, huge cursors, rate limits,
secrets kept out of access logs, ignored group-chat updates stored without personal data."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import func, select, text

from backend.app import MAX_BODY, create_app
from backend.config import Settings
from backend.container import Container
from backend.db.migrate import upgrade
from backend.db.models import Message, OrgUnit
from tests.liveserver import live_server

from .conftest import UNITS, Api, KeywordParser, RecordingTexts

SESSION = "abcdefgh12"
CHUNK = 64 * 1024


def _build(backend_urls: tuple[str, str], tmp_path: Path, **overrides: Any) -> tuple[Settings, Container]:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=backend_urls[0],
        redis_url=backend_urls[1],
        run_workers=False,
        model_dir=tmp_path / "models",
        **overrides,
    )
    container = Container(settings)
    upgrade(container.engine)
    with container.scope() as s:
        for code, name, level, parent in UNITS:
            s.add(OrgUnit(code=code, name=name, short_name=name, level=level, parent_code=parent))
            s.flush()
        s.commit()
    container.parser = KeywordParser()  # type: ignore[assignment]
    container.texts = RecordingTexts()
    return settings, container


@pytest.fixture
def hooks(backend_urls: tuple[str, str], tmp_path: Path) -> Iterator[Api]:
    """An app with every platform webhook configured."""
    settings, container = _build(
        backend_urls,
        tmp_path,
        telegram_token="123:abc",
        telegram_secret="tg-secret",
        zalo_oa_secret="oa-secret",
        zalobot_token="zb-token",
        zalobot_secret="zb-secret",
    )
    with TestClient(create_app(settings, container), raise_server_exceptions=False) as client:
        yield Api(client, container)
    container.close()


@pytest.fixture
def tight(backend_urls: tuple[str, str], tmp_path: Path) -> Iterator[Api]:
    """Low web-chat rate limits so a test can pass them."""
    settings, container = _build(backend_urls, tmp_path, webchat_rate_per_session=3, webchat_rate_per_address=5)
    with TestClient(create_app(settings, container), raise_server_exceptions=False) as client:
        yield Api(client, container)
    container.close()


@pytest.fixture
def lenient(api: Api) -> Api:
    """The shared app, answering 500 instead of raising, as a real server does."""
    api.client = TestClient(api.client.app, raise_server_exceptions=False)
    return api


class Counting:
    """A request body produced chunk by chunk; counts how much the server asked for."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        head = b'{"session": "abcdefgh12", "text": "'
        self.sent += len(head)
        yield head
        while self.sent < self.total:
            self.sent += CHUNK
            yield b"a" * CHUNK


# -- 1. body limits on streamed bodies ------------------------------------------------------------------------------
async def test_chunked_body_over_the_limit_is_refused_in_process(api: Api) -> None:
    """Driven at the ASGI level: the test client would read the whole body before the app sees it."""
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if asked == 1:
            return {"type": "http.request", "body": b'{"session": "abcdefgh12", "text": "', "more_body": True}
        return {"type": "http.request", "body": b"a" * CHUNK, "more_body": True}  # never ends

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/webchat/messages",
        "raw_path": b"/api/webchat/messages",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    await api.client.app(scope, receive, send)  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert (b"connection", b"close") in start["headers"]
    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    assert "quá lớn" in body["detail"] and "too large" in body["detail"]
    assert asked * CHUNK <= MAX_BODY + 2 * CHUNK  # refused as soon as the limit was passed, the rest never read
    with api.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_declared_length_over_the_limit_is_refused(lenient: Api) -> None:
    r = lenient.client.post(
        "/api/nlu/parse", content=b"x" * (MAX_BODY + 1), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    for bad in (b"abc", b"-1", "²".encode()):
        r = lenient.client.post("/api/nlu/parse", content=b"{}", headers={b"Content-Length": bad})
        assert r.status_code in (400, 413), (bad, r.status_code)


def test_chunked_body_under_the_limit_still_works(lenient: Api) -> None:
    payload = json.dumps({"session": SESSION, "text": "đèn đường hỏng ở Hoàn Kiếm"}).encode()
    r = lenient.client.post(
        "/api/webchat/messages",
        content=iter([payload[:10], payload[10:]]),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text


def test_chunked_body_over_the_limit_is_refused_by_a_live_server(tmp_path: Path) -> None:
    settings, container = _build((f"sqlite:///{tmp_path / 'live.db'}", ""), tmp_path)
    body = Counting(50 * MAX_BODY)
    with live_server(create_app(settings, container)) as url:
        try:
            r = httpx.post(
                f"{url}/api/webchat/messages",
                content=iter(body),
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
            r = None  # the server answered and closed while the client was still writing
        if r is not None:
            assert r.status_code == 413
            assert "too large" in r.json()["detail"]
    assert body.sent < 50 * MAX_BODY
    with container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0
    container.close()


# -- 2. length limits -----------------------------------------------------------------------------------------------
def test_text_fields_have_length_limits(lenient: Api) -> None:
    from backend.api import nlu_schemas, schemas

    models = [getattr(module, name) for module in (schemas, nlu_schemas) for name in dir(module)]
    for model in models:
        name = getattr(model, "__name__", "")
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or not name.endswith(
            ("In", "Create", "Correction", "Reassign", "Update")
        ):
            continue
        schema = model.model_json_schema()
        for field, spec in schema["properties"].items():
            options = spec.get("anyOf", [spec])
            for option in options:
                if option.get("type") == "string":
                    bounded = "maxLength" in option or "pattern" in option or "enum" in option
                    assert bounded, f"{name}.{field} has no length limit"
    r = lenient.client.post("/api/nlu/parse", json={"text": "a" * 4001})
    assert r.status_code == 422


def test_nlu_input_is_capped_before_parsing(tmp_path: Path) -> None:
    seen: list[int] = []

    class Engine:
        version = "v"

        def parse(self, value: str) -> dict[str, Any]:
            seen.append(len(value))
            return {}

    from backend.container import EngineParser

    parser = EngineParser(tmp_path, tmp_path, bootstrap=False)
    parser._engine = Engine()
    parser._checked = float("inf")
    parser.parse("x" * 100_000)
    assert seen == [4000]


# -- 3. no 5xx on crafted input -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        b'{"session": "\\ud800\\udbff", "text": "x"}',
        b'{"session": "abcdefgh12", "text": "\\ud800"}',
        b'{"session": NaN, "text": "x"}',
        b'{"session": "abcdefgh12", "text": Infinity}',
        b'{"session": "abcdefgh12", "text": "x", "client_id": -Infinity}',
        b'{"session": "abcdefgh12", "text": "\\u0000"}',
    ],
)
def test_crafted_json_is_a_422_not_a_500(lenient: Api, raw: bytes) -> None:
    for path in ("/api/webchat/messages", "/api/nlu/parse"):
        r = lenient.client.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 422), (path, r.status_code, r.text)
        assert r.json()["detail"]


def test_surrogates_are_refused_in_query_strings_and_forms(lenient: Api) -> None:
    for query in ("session=%ED%A0%80abcdefgh", "session=abcdefgh%00", "session=abcdefgh&after=%FF"):
        r = lenient.client.get(f"/api/webchat/messages?{query}")  # a surrogate (UTF-8 encoded), NUL, not UTF-8
        assert r.status_code in (400, 422), query
    r = lenient.client.get("/api/webchat/messages", headers={b"X-Chat-Session": b"\xed\xa0\x80abcdefgh"})
    assert r.status_code in (400, 422)
    r = lenient.client.post(
        "/api/auth/token",
        content=b"username=%ED%A0%80%00&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code in (400, 401, 422)


def test_stars_payload_that_is_not_a_number(lenient: Api) -> None:
    r = lenient.client.post("/api/webchat/messages", json={"session": SESSION, "payload": "stars:abc"})
    assert r.status_code == 200, r.text
    r = lenient.client.post("/api/webchat/messages", json={"session": SESSION, "payload": "stars:99"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("digit", ["①", "²", "٣", "𝟚"])
def test_unicode_digits_where_a_number_is_expected(lenient: Api, digit: str) -> None:
    r = lenient.client.post("/api/webchat/messages", json={"session": SESSION, "text": "xin chào"})
    assert r.status_code == 200
    r = lenient.client.post("/api/webchat/messages", json={"session": SESSION, "text": digit})
    assert r.status_code == 200, r.text


def test_huge_cursors_and_offsets(lenient: Api) -> None:
    c = lenient.client
    assert c.post("/api/webchat/messages", json={"session": SESSION, "text": "xin chào"}).status_code == 200
    for after in (10**30, 2**63, 2**31):
        r = c.get("/api/webchat/messages", params={"session": SESSION, "after": after})
        assert r.status_code in (200, 422), (after, r.status_code)
    assert c.get("/api/webchat/messages", params={"session": SESSION, "after": 10**30}).status_code == 422
    assert c.get("/api/webchat/messages", params={"session": SESSION, "after": "²"}).status_code == 422
    from .conftest import add_official

    add_official(lenient.container, "tw.admin", "TW", role="admin")
    auth = lenient.login("tw.admin")
    for offset in (10**30, 2**63, 2**31):
        r = c.get("/api/tickets", params={"offset": offset}, headers=auth)
        assert r.status_code in (200, 422), (offset, r.status_code)
    assert c.get("/api/tickets", params={"offset": 10**30}, headers=auth).status_code == 422
    for limit in (10**30, "①"):
        assert c.get("/open311/v2/requests.json", params={"limit": limit}).status_code == 422


def test_webchat_retry_returns_the_original_replies(lenient: Api) -> None:
    body = {"session": SESSION, "text": "xin chào", "client_id": "c-1"}
    first = lenient.client.post("/api/webchat/messages", json=body)
    assert first.status_code == 200 and first.json()["replies"]
    again = lenient.client.post("/api/webchat/messages", json=body)
    assert again.status_code == 200, again.text
    assert [r["text"] for r in again.json()["replies"]] == [r["text"] for r in first.json()["replies"]]
    assert [r["id"] for r in again.json()["replies"]] == [r["id"] for r in first.json()["replies"]]


# -- webhooks ---------------------------------------------------------------------------------------------------------
def _zalo_headers(raw: bytes) -> dict[str, str]:
    try:
        body = json.loads(raw)
        app_id, ts = str(body.get("app_id", "")), str(body.get("timestamp", ""))
    except (ValueError, RecursionError, AttributeError):
        app_id = ts = ""
    digest = hashlib.sha256(app_id.encode() + raw + ts.encode() + b"oa-secret").hexdigest()
    return {"X-ZEvent-Signature": f"mac={digest}", "Content-Type": "application/json"}


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_deeply_nested_json_before_the_zalo_signature_check(hooks: Api, depth: int) -> None:
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        raw = raw[:250_000]
        r = hooks.client.post("/webhooks/zalo", content=raw, headers=_zalo_headers(raw))
        assert r.status_code in (400, 401), r.status_code
        for path, headers in (
            ("/webhooks/telegram", {"X-Telegram-Bot-Api-Secret-Token": "tg-secret"}),
            ("/webhooks/zalobot", {"X-Bot-Api-Secret-Token": "zb-secret"}),
        ):
            r = hooks.client.post(path, content=raw, headers=headers)
            assert r.status_code == 400, (path, r.status_code)


def _asgi(path: str, method: str = "POST", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers or [],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }


async def test_the_webhook_endpoint_refuses_a_streamed_body_over_its_limit_without_reading_the_rest(
    hooks: Api,
) -> None:
    """The webhooks are served ahead of FastAPI's middleware (backend/app.py ``GopyApp``): their own body limit."""
    from backend.api.routes.webhooks import MAX_WEBHOOK_BODY

    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"[" * CHUNK, "more_body": True}  # never ends

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    secret = [(b"x-telegram-bot-api-secret-token", b"tg-secret"), (b"transfer-encoding", b"chunked")]
    await hooks.client.app(_asgi("/webhooks/telegram", headers=secret), receive, send)  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413 and (b"connection", b"close") in start["headers"]
    assert asked * CHUNK <= MAX_WEBHOOK_BODY + 2 * CHUNK
    with hooks.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_the_webhook_endpoint_answers_as_the_api_does(hooks: Api) -> None:
    """Errors as ``{"detail": ...}`` with their status, the JSON API's security headers, 405 for other methods."""
    secret = {"X-Telegram-Bot-Api-Secret-Token": "tg-secret"}
    update = {"update_id": 77, "message": {"message_id": 1, "date": 1700000000, "chat": {"id": 5, "type": "private"}}}
    cases = [
        (hooks.client.post("/webhooks/pigeon", json={}), 404, "Not Found"),
        (hooks.client.post("/webhooks/telegram/extra", json={}), 404, "Not Found"),
        (hooks.client.post("/webhooks/telegram", json=update), 403, "wrong secret token"),
        (hooks.client.post("/webhooks/telegram", content=b"{", headers=secret), 400, "invalid JSON"),
        (hooks.client.post("/webhooks/telegram", content=b"[1]", headers=secret), 400, "expected a JSON object"),
        (
            hooks.client.post("/webhooks/telegram", content=b"x" * 300_000, headers=secret),
            413,
            "request body too large",
        ),
        (
            hooks.client.post("/webhooks/telegram", content=b"{}", headers={**secret, "Content-Length": "x"}),
            400,
            "invalid Content-Length",
        ),
        (hooks.client.get("/webhooks/telegram"), 405, "Method Not Allowed"),
    ]
    for r, status, detail in cases:
        assert r.status_code == status, (r.request.url, r.status_code, r.text)
        assert detail in r.json()["detail"]
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert cases[-1][0].headers["allow"] == "POST"
    ok = hooks.client.post("/webhooks/telegram", json=update, headers=secret)
    assert ok.status_code == 200 and ok.json()["ok"] is True
    assert ok.headers["x-frame-options"] == "DENY"
    with hooks.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 1  # only the one that was acknowledged


def test_a_webhook_that_cannot_be_stored_is_not_acknowledged_and_the_server_goes_on(
    hooks: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = {"X-Telegram-Bot-Api-Secret-Token": "tg-secret"}
    chat = {"id": 5, "type": "private"}
    update = {"update_id": 78, "message": {"message_id": 1, "date": 1700000000, "chat": chat, "text": "a"}}

    async def broken(*_: Any) -> str:
        raise RuntimeError("database unreachable")

    with monkeypatch.context() as m:
        m.setattr(type(hooks.container.channels), "accept", broken)
        with caplog.at_level(logging.ERROR):
            r = hooks.client.post("/webhooks/telegram", json=update, headers=secret)
    assert r.status_code == 500 and r.json() == {"detail": "Internal Server Error"}
    assert "could not be stored" in caplog.text and "database unreachable" in caplog.text
    again = hooks.client.post("/webhooks/telegram", json=update, headers=secret)  # the platform's redelivery
    assert again.status_code == 200 and again.json()["outcome"] != "duplicate"


def test_lone_surrogates_in_a_webhook_become_replacement_characters(hooks: Api) -> None:
    secret = {"X-Telegram-Bot-Api-Secret-Token": "tg-secret"}
    for n, escaped in enumerate(("\\ud800", "\\uDBFF", "\\udc00 \\ud83d\\ude00")):
        raw = (
            f'{{"update_id": {90 + n}, "message": {{"message_id": {n}, "date": 1700000000, '
            f'"chat": {{"id": 5, "type": "private"}}, "text": "ng\\u1eadp {escaped}"}}}}'
        ).encode()
        r = hooks.client.post("/webhooks/telegram", content=raw, headers=secret)
        assert r.status_code == 200, r.text
    with hooks.container.scope() as s:
        texts = s.scalars(select(Message.text).order_by(Message.id)).all()
    assert texts == ["ngập \ufffd", "ngập \ufffd", "ngập \ufffd 😀"]


def test_the_webhook_endpoint_is_in_the_api_document(hooks: Api) -> None:
    doc = hooks.client.get("/openapi.json").json()
    post = doc["paths"]["/webhooks/{name}"]["post"]
    assert post["parameters"][0]["schema"]["enum"] == ["telegram", "zalo", "zalobot"]
    assert {"200", "400", "403", "404", "413", "500"} <= set(post["responses"])


TG_ODD: list[dict[str, Any]] = [
    {"update_id": 1, "message": {"message_id": 1, "date": 1e30, "chat": {"id": 5, "type": "private"}, "text": "x"}},
    {"update_id": 2, "message": {"message_id": 1, "date": -1e30, "chat": {"id": 5, "type": "private"}, "text": "x"}},
    {"update_id": 3, "message": {"message_id": 1, "date": "abc", "chat": {"id": 5, "type": "private"}, "text": "x"}},
    {
        "update_id": 4,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": 5, "type": "private"},
            "location": {"latitude": "abc", "longitude": 1},
        },
    },
    {
        "update_id": 5,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": 5, "type": "private"},
            "location": {"latitude": 1e308 * 10, "longitude": 1},
        },
    },
    {
        "update_id": 6,
        "message": {"message_id": 1, "date": 1700000000, "chat": {"id": 5, "type": "private"}, "from": "abc"},
    },
    {"update_id": 7, "message": {"message_id": 1, "date": 1700000000, "chat": "abc", "text": "x"}},
    {"update_id": 8, "message": "abc"},
    {"update_id": 9, "message": [1, 2]},
    {"update_id": 10, "callback_query": {"id": "q", "from": "abc", "data": "x"}},
    {"update_id": 11, "callback_query": {"id": 5, "from": {"id": "x", "is_bot": False, "first_name": 3}}},
    {
        "update_id": 12,
        "message": {"message_id": 1, "date": 1700000000, "chat": {"id": 5, "type": "private"}, "photo": "abc"},
    },
    {
        "update_id": 13,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": 5, "type": "private"},
            "contact": {"phone_number": 12345, "first_name": None},
        },
    },
    {"update_id": 14, "my_chat_member": {"chat": 1, "new_chat_member": "x"}},
    {"update_id": 2**80, "message": {"message_id": 2**80, "date": 1, "chat": {"id": 2**80, "type": "private"}}},
    {
        "update_id": 15,
        "message": {"message_id": 1, "date": 1700000000, "chat": {"id": 5, "type": "private"}, "text": ["a"]},
    },
]


@pytest.mark.parametrize("update", TG_ODD)
def test_odd_typed_telegram_updates(hooks: Api, update: dict[str, Any]) -> None:
    from bot.telegram import parse_update

    result = parse_update(update)
    assert result.outcome
    r = hooks.client.post(
        "/webhooks/telegram", content=json.dumps(update), headers={"X-Telegram-Bot-Api-Secret-Token": "tg-secret"}
    )
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        assert r.json()["ok"] is True


ZALO_ODD: list[dict[str, Any]] = [
    {"event_name": "user_send_text", "sender": {"id": 123}, "message": {"msg_id": 5, "text": "x"}},
    {"event_name": "user_send_text", "sender": "abc", "message": {"msg_id": "m", "text": "x"}},
    {"event_name": "user_send_text", "sender": {"id": "u"}, "message": "abc"},
    {"event_name": "user_send_text", "sender": {"id": "u"}, "message": ["a"]},
    {"event_name": "user_send_text", "sender": {"id": "u"}, "message": {"msg_id": "m", "text": {"a": 1}}},
    {
        "event_name": "user_send_text",
        "sender": {"id": "u"},
        "message": {"msg_id": "m", "text": "x"},
        "timestamp": "1" + "0" * 30,
    },
    {
        "event_name": "user_send_text",
        "sender": {"id": "u"},
        "message": {"msg_id": "m", "text": "x"},
        "timestamp": -(10**20),
    },
    {
        "event_name": "user_send_location",
        "sender": {"id": "u"},
        "message": {"msg_id": "m2", "attachments": ["abc", {"payload": "x"}]},
    },
    {
        "event_name": "user_send_location",
        "sender": {"id": "u"},
        "message": {"msg_id": "m3", "attachments": [{"payload": {"coordinates": {"latitude": "abc", "longitude": 1}}}]},
    },
    {
        "event_name": "user_send_location",
        "sender": {"id": "u"},
        "message": {"msg_id": "m4", "location": {"latitude": "nan", "longitude": "inf"}},
    },
    {"event_name": "user_send_image", "sender": {"id": "u"}, "message": {"msg_id": "m5", "attachments": "abc"}},
    {
        "event_name": "user_send_image",
        "sender": {"id": "u"},
        "message": {"msg_id": "m6", "attachments": [{"payload": {"url": 5, "size": "²"}}]},
    },
    {"event_name": "follow", "follower": "abc"},
    {"event_name": ["x"]},
    {"event_name": "user_send_text", "sender": {"id": ["u"]}, "message": {"msg_id": "m7", "text": "x"}},
]


@pytest.mark.parametrize("event", ZALO_ODD)
def test_odd_typed_zalo_events(hooks: Api, event: dict[str, Any]) -> None:
    from bot.zalo import parse_event

    result = parse_event(event)
    assert result.outcome
    if result.message is not None:
        assert isinstance(result.message.user_id, str) and isinstance(result.message.text, str)
        assert isinstance(result.message.platform_message_id, str)
        if result.message.location is not None:
            import math

            assert math.isfinite(result.message.location.latitude)
    raw = json.dumps(event).encode()
    r = hooks.client.post("/webhooks/zalo", content=raw, headers=_zalo_headers(raw))
    assert r.status_code in (200, 400), r.text


ZALOBOT_ODD: list[dict[str, Any]] = [
    {"event_name": "message.text.received", "message": {"message_id": 1, "from": "abc", "chat": {"id": 1}}},
    {"event_name": "message.text.received", "message": {"message_id": 1, "from": {"id": 1}, "chat": "abc"}},
    {
        "event_name": "message.text.received",
        "message": {"message_id": 1, "from": {"id": 1}, "chat": {"id": 1}, "text": "x", "date": 1e30},
    },
    {
        "event_name": "message.text.received",
        "message": {"message_id": 1, "from": {"id": 1}, "chat": {"id": 1}, "text": ["x"], "date": "abc"},
    },
    {
        "event_name": "message.text.received",
        "message": {"message_id": {"a": 1}, "from": {"id": [1]}, "chat": {"id": 1}, "text": "x"},
    },
    {
        "event_name": 5,
        "message": {"message_id": 1, "from": {"id": 1, "display_name": 7}, "chat": {"id": 1}, "text": "x"},
    },
    {"ok": True, "result": "abc"},
    {
        "event_name": "message.image.received",
        "message": {"message_id": 2, "from": {"id": 1}, "chat": {"id": 1}, "photo_url": ["x"], "caption": 5},
    },
]


@pytest.mark.parametrize("update", ZALOBOT_ODD)
def test_odd_typed_zalobot_updates(hooks: Api, update: dict[str, Any]) -> None:
    from bot.zalobot import parse_update

    result = parse_update(update)
    assert result.outcome
    if result.message is not None:
        assert isinstance(result.message.user_id, str) and isinstance(result.message.text, str)
        assert isinstance(result.message.display_name, str | None)
    r = hooks.client.post(
        "/webhooks/zalobot", content=json.dumps(update), headers={"X-Bot-Api-Secret-Token": "zb-secret"}
    )
    assert r.status_code in (200, 400), r.text


# -- 4. rate limits -------------------------------------------------------------------------------------------------
def test_webchat_messages_are_rate_limited_per_session(tight: Api) -> None:
    c = tight.client
    for i in range(3):
        assert c.post("/api/webchat/messages", json={"session": SESSION, "text": f"tin {i}"}).status_code == 200
    with tight.container.scope() as s:
        stored = s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    r = c.post("/api/webchat/messages", json={"session": SESSION, "text": "tin nữa"})
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 61
    assert "Too many" in r.json()["detail"] and "vui lòng chờ" in r.json()["detail"]
    with tight.container.scope() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == stored
    assert c.post("/api/webchat/messages", json={"session": "other-session-1", "text": "xin chào"}).status_code == 200


def test_webchat_messages_are_rate_limited_per_address(tight: Api) -> None:
    c = tight.client
    codes = [
        c.post("/api/webchat/messages", json={"session": f"session-{i:04d}", "text": "xin chào"}).status_code
        for i in range(6)
    ]
    assert codes == [200] * 5 + [429]


# -- 5. secrets out of access logs ----------------------------------------------------------------------------------
def test_webchat_session_travels_in_a_header(lenient: Api) -> None:
    c = lenient.client
    assert c.post("/api/webchat/messages", json={"session": SESSION, "text": "xin chào"}).status_code == 200
    r = c.get("/api/webchat/messages", headers={"X-Chat-Session": SESSION})
    assert r.status_code == 200 and r.json()["replies"]
    assert c.get("/api/webchat/messages", params={"session": SESSION}).json() == r.json()  # for one release
    assert c.get("/api/webchat/messages").status_code == 422
    assert c.get("/api/webchat/messages", headers={"X-Chat-Session": "bad"}).status_code == 422
    page = c.get("/chat").text
    assert "X-Chat-Session" in page and "?session=" not in page


def test_access_log_redacts_secrets_in_query_strings() -> None:
    from uvicorn.logging import AccessFormatter

    from backend.logs import RedactSecrets

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5000",
            "GET",
            "/api/webchat/messages?session=wsecret123456&after=3&api_key=gopy_KEY&TOKEN=t0k&access_token=x&x=1",
            "1.1",
            200,
        ),
        None,
    )
    assert RedactSecrets().filter(record) is True
    line = AccessFormatter(fmt="%(client_addr)s - %(request_line)s %(status_code)s", use_colors=False).format(record)
    for secret in ("wsecret123456", "gopy_KEY", "t0k", "access_token=x"):
        assert secret not in line
    assert "after=3" in line and "x=1" in line and "session=***" in line


def test_serve_installs_the_redaction_filter() -> None:
    from backend.logs import RedactSecrets, access_log_config

    config = access_log_config()
    assert config["loggers"]["uvicorn.access"]["filters"] == ["redact"]
    assert config["filters"]["redact"]["()"] is RedactSecrets


# -- 6. ignored group-chat updates ----------------------------------------------------------------------------------
def test_ignored_group_updates_keep_no_personal_data(hooks: Api) -> None:
    update = {
        "update_id": 4242,
        "message": {
            "message_id": 77,
            "date": 1700000000,
            "chat": {"id": -100123, "type": "supergroup", "title": "Tổ dân phố 5"},
            "from": {"id": 999, "is_bot": False, "first_name": "Trần Thị", "last_name": "Bích Ngọc"},
            "contact": {"phone_number": "0912345678", "first_name": "Lê Văn", "last_name": "Hùng"},
        },
    }
    for _ in range(2):
        r = hooks.client.post(
            "/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "tg-secret"}
        )
        assert r.status_code == 200 and r.json()["outcome"].startswith("ignored")
    with hooks.container.scope() as s:
        rows = s.scalars(select(Message)).all()
        assert len(rows) == 1  # acknowledged and deduplicated
        assert rows[0].kind == "ignored" and rows[0].channel == "telegram"
        dump = ""
        for table in ("messages", "citizens", "tickets", "ticket_events", "audit_log", "outbox"):
            try:
                dump += repr(s.execute(text(f"SELECT * FROM {table}")).all())
            except Exception:
                s.rollback()
    for secret in ("0912345678", "Bích Ngọc", "Hùng", "Tổ dân phố", "-100123"):
        assert secret not in dump, secret


def test_console_page_numbers_and_form_fields_are_bounded(lenient: Api) -> None:
    from .conftest import add_official

    add_official(lenient.container, "tw.admin", "TW", role="admin")
    r = lenient.client.post(
        "/console/login", data={"username": "tw.admin", "password": "mat-khau-123"}, follow_redirects=False
    )
    assert r.status_code == 303
    for page in (10**30, 2**63, -(10**30)):
        assert lenient.client.get("/console", params={"page": page}).status_code == 200, page
    r = lenient.client.post("/console/login", data={"username": "x" * 10_000, "password": "y"})
    assert r.status_code in (401, 422)


def test_open311_fields_have_length_limits_and_must_be_text(lenient: Api) -> None:
    from backend.api.routes.open311 import new_api_key

    with lenient.container.scope() as s:
        key = new_api_key(s, "tich hop", "TW")
        s.commit()
    base = {"api_key": key, "service_code": "ha_tang", "description": "Đèn đường hỏng ở Hoàn Kiếm"}
    for extra in (
        {"address_string": "phố Hàng Bạc " * 1000},
        {"first_name": "A" * 5000},
        {"description": "x\u0000y"},
        {"address_string": "\ud800"},
        {"lat": "nan", "long": "1"},
        {"lat": "①", "long": "1"},
        {f"f{i}": "x" for i in range(100)},
    ):
        for kind in ("json", "data"):
            if kind == "data" and any("\ud800" in v for v in extra.values()):
                continue
            if kind == "json":
                r = lenient.client.post(
                    "/open311/v2/requests.json",
                    content=json.dumps({**base, **extra}),  # ASCII, with \ud800 escaped as JSON allows
                    headers={"Content-Type": "application/json"},
                )
            else:
                r = lenient.client.post("/open311/v2/requests.json", data={**base, **extra})
            assert r.status_code == 400, (extra if len(extra) < 5 else "many", kind, r.status_code)
    r = lenient.client.get("/open311/v2/requests.json", params={"service_request_id": "PA-" * 5000})
    assert r.status_code == 422
    r = lenient.client.post("/open311/v2/requests.json", json=base)
    assert r.status_code == 201, r.text
