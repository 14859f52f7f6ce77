"""A fake Zalo platform on 127.0.0.1 speaking real HTTP.

- OA Open API: ``POST /v3.0/oa/message/cs`` (header ``access_token``; errors in the JSON ``error`` field with HTTP
  200, as Zalo does), and the OAuth ``POST /v4/oa/access_token`` refresh with single-use refresh tokens.
- Zalo Bot API: ``POST /bot{token}/{method}`` (``sendMessage``, ``setWebhook``, ``getMe``).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.liveserver import live_server

APP_ID = "4318872541123456789"
APP_SECRET = "app-secret-TEST"


@dataclass
class Sent:
    user_id: str
    text: str
    at: float
    token: str


@dataclass
class FakeZalo:
    access_token: str = "access-1"
    refresh_token: str = "refresh-1"
    bot_token: str = "1234567890:zalobot-TEST"
    url: str = ""
    sent: list[Sent] = field(default_factory=list)
    bot_sent: list[dict[str, Any]] = field(default_factory=list)
    cs_attempts: int = 0
    refreshes: int = 0
    refused_refreshes: int = 0
    used_refresh_tokens: set[str] = field(default_factory=set)
    not_interacted: set[str] = field(default_factory=set)
    failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    refresh_delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def bot_base_url(self) -> str:
        return f"{self.url}/bot"

    def expire_access_token(self) -> None:
        """The current access token stops working (as when it outlives its ~25 h)."""
        with self.lock:
            self.access_token = f"access-{secrets.token_hex(4)}"

    def fail(self, status: int, times: int = 1, error: int | None = None) -> None:
        body: dict[str, Any] = {"error": error if error is not None else -1, "message": f"HTTP {status}"}
        with self.lock:
            self.failures.extend([(status, body)] * times)

    def texts(self, user_id: str | None = None) -> list[str]:
        with self.lock:
            return [s.text for s in self.sent if user_id is None or s.user_id == user_id]

    async def cs(self, request: Request) -> JSONResponse:
        token = request.headers.get("access_token", "")
        body = await request.json()
        with self.lock:
            self.cs_attempts += 1
            if self.failures:
                status, failure = self.failures.pop(0)
                return JSONResponse(failure, status_code=status)
            if token != self.access_token:
                return JSONResponse({"error": -216, "message": "Access token is invalid"})
            user = str((body.get("recipient") or {}).get("user_id", ""))
            text = str((body.get("message") or {}).get("text", ""))
            if not user or not text:
                return JSONResponse({"error": -201, "message": "Parameters are invalid"})
            if len(text) > 2000:
                return JSONResponse({"error": -201, "message": "Text is too long"})
            if user in self.not_interacted:
                return JSONResponse({"error": -230, "message": "User has not interacted with the OA in 7 days"})
            self.sent.append(Sent(user, text, time.monotonic(), token))
            msg_id = f"zmsg{next(self._ids)}"
        return JSONResponse({"error": 0, "message": "Success", "data": {"message_id": msg_id, "user_id": user}})

    async def oauth(self, request: Request) -> JSONResponse:
        form = await request.form()
        if request.headers.get("secret_key") != APP_SECRET or form.get("app_id") != APP_ID:
            return JSONResponse({"error": -14002, "error_name": "Invalid app", "error_description": "bad app"})
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)  # widens the race window between concurrent refreshers
        given = str(form.get("refresh_token", ""))
        with self.lock:
            if form.get("grant_type") != "refresh_token" or given != self.refresh_token:
                self.refused_refreshes += 1
                return JSONResponse(
                    {
                        "error": -14014,
                        "error_name": "Invalid refresh token",
                        "error_description": "refresh token is invalid or was already used",
                    }
                )
            self.used_refresh_tokens.add(given)
            self.refreshes += 1
            self.access_token = f"access-{self.refreshes + 1}-{secrets.token_hex(3)}"
            self.refresh_token = f"refresh-{self.refreshes + 1}-{secrets.token_hex(3)}"
            return JSONResponse(
                {"access_token": self.access_token, "refresh_token": self.refresh_token, "expires_in": "90000"}
            )

    async def bot(self, request: Request) -> JSONResponse:
        token, method = request.path_params["token"], request.path_params["method"]
        if token != self.bot_token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        params = await request.json() if method != "getMe" else {}
        with self.lock:
            if self.failures:
                status, failure = self.failures.pop(0)
                return JSONResponse(
                    {"ok": False, "error_code": status, "description": failure["message"]}, status_code=status
                )
            if method == "sendMessage":
                self.bot_sent.append(params)
                return JSONResponse(
                    {"ok": True, "result": {"message_id": f"b{next(self._ids)}", "date": int(time.time() * 1000)}}
                )
        if method == "getMe":
            return JSONResponse(
                {"ok": True, "result": {"id": "777", "account_name": "bot.gopy", "can_join_groups": False}}
            )
        return JSONResponse({"ok": True, "result": True})


@contextmanager
def fake_zalo() -> Iterator[FakeZalo]:
    fake = FakeZalo()
    app = Starlette(
        routes=[
            Route("/v3.0/oa/message/cs", fake.cs, methods=["POST"]),
            Route("/v4/oa/access_token", fake.oauth, methods=["POST"]),
            Route("/bot{token}/{method}", fake.bot, methods=["POST", "GET"]),
        ]
    )
    with live_server(app) as url:
        fake.url = url
        yield fake
