"""A fake Telegram Bot API on 127.0.0.1 speaking real HTTP: records calls, can be told to fail."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.liveserver import live_server

BOT_USER = {
    "id": 7000001,
    "is_bot": True,
    "first_name": "gopy",
    "username": "gopy_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    ok: bool = True


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-token"
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[tuple[int, dict[str, Any] | bytes]]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    def fail(self, method: str, status: int, times: int = 1, retry_after: int | None = None) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": f"HTTP {status}"}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
            body["description"] = f"Too Many Requests: retry after {retry_after}"
        if status == 403:
            body["description"] = "Forbidden: bot was blocked by the user"
        self.failures.setdefault(method, []).extend([(status, body)] * times)

    def answer(self, method: str, status: int, body: dict[str, Any] | bytes) -> None:
        """Answer the next call of ``method`` with exactly this (a JSON object, or raw bytes) instead of a result;
        the call counts as failed."""
        self.failures.setdefault(method, []).append((status, body))

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        """Parameters of the successful calls of ``method``."""
        with self.lock:
            return [c.params for c in self.calls if c.method == method and c.ok]

    def attempts(self, method: str = "sendMessage") -> int:
        with self.lock:
            return len([c for c in self.calls if c.method == method])

    async def handle(self, request: Request) -> Response:
        token, method = request.path_params["token"], request.path_params["method"]
        if token != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        if request.headers.get("content-type", "").startswith("application/json"):
            params = await request.json()
        else:
            form = await request.form()
            params = {k: _maybe_json(str(v)) for k, v in form.items()}
        with self.lock:
            queue = self.failures.get(method)
            failure = queue.pop(0) if queue else None
            self.calls.append(Call(method, params, time.monotonic(), failure is None))
            if failure is not None:
                status, body = failure
                if isinstance(body, bytes):
                    return Response(body, status_code=status, media_type="application/json")
                return JSONResponse(body, status_code=status)
        return JSONResponse({"ok": True, "result": self._result(method, params)})

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in ("sendMessage", "sendPhoto", "sendLocation"):
            chat_id = int(params.get("chat_id", 0))
            return {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "text": params.get("text", ""),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
            }
        if method == "getUpdates":
            with self.lock:
                out, self.updates = self.updates, []
            return out
        return True


def _maybe_json(value: str) -> Any:
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@contextmanager
def fake_telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram()
    app = Starlette(routes=[Route("/bot{token}/{method}", fake.handle, methods=["POST", "GET"])])
    with live_server(app) as url:
        fake.url = url
        yield fake
