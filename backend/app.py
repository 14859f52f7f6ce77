"""The FastAPI application: API, webhooks, console, web chat; workers run inside when embedded."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.routes import auth, health, nlu, officials, open311, tickets, webchat, webhooks
from backend.api.routes import exports as ticket_exports
from backend.api.routes import reply_templates as reply_templates_api
from backend.api.routes import reports as summary_api
from backend.config import Settings, get_settings, warn_dev_secret
from backend.console import account as console_account
from backend.console import api_docs, live, report_files
from backend.console import nlu as console_nlu
from backend.console import officials as console_officials
from backend.console import reports as console_reports
from backend.console import routes as console
from backend.container import Container
from backend.http_limits import CLOSE, TOO_LARGE, declared_length_refusal
from backend.security_headers import SecurityHeaders
from backend.services.live import LiveHub
from backend.webchat import routes as chat_page

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000
BAD_TEXT = "the request contains characters that are not text / dữ liệu gửi lên có ký tự không hợp lệ"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a request body passes the limit; FastAPI renders it as 413."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE, headers=CLOSE)


class BadText(HTTPException):
    def __init__(self) -> None:
        super().__init__(400, BAD_TEXT)


def readable(encoded: bytes) -> bool:
    """A query string or form body decodes (percent and plus escapes) to UTF-8 text without NUL characters."""
    try:
        text = unquote_to_bytes(encoded.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


class BodyLimit:
    """Refuse oversized requests (pure ASGI): a declared Content-Length over the limit at once, and a streamed
    (chunked) body as soon as the bytes received pass the limit, without reading the rest.

    Query strings and URL-encoded forms that do not decode to text (invalid UTF-8, NUL characters) are refused
    with 400 here too: no route, and no database, has to cope with them.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not readable(scope.get("query_string", b"")):
            await JSONResponse({"detail": BAD_TEXT}, status_code=400)(scope, receive, send)
            return
        form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        refusal = declared_length_refusal(headers, self.limit)
        if refusal is not None:
            await JSONResponse({"detail": refusal[1]}, status_code=refusal[0], headers=CLOSE)(scope, receive, send)
            return
        received = 0
        started = False
        buffer = bytearray()

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge()
                if form:
                    buffer.extend(message.get("body", b""))
                    if not message.get("more_body", False) and not readable(bytes(buffer)):
                        raise BadText()
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except BodyTooLarge:
            if started:
                raise
            await JSONResponse({"detail": TOO_LARGE}, status_code=413, headers=CLOSE)(scope, receive, send)


def _safe(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of what a client sent (lone surrogates escaped, NaN and infinities as text, long strings
    and deep structures cut), for echoing it back in a validation error."""
    if depth > 8:
        return "…"
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        text = value if len(value) <= 200 else value[:200] + "…"
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_safe(str(k), depth + 1): _safe(v, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple):
        return [_safe(v, depth + 1) for v in value[:50]]
    return _safe(str(value), depth + 1)


async def validation_error(_request: Request, exc: Exception) -> Response:
    """422 with pydantic's error list, rendered safely whatever the input was."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {key: _safe(error[key]) for key in ("type", "loc", "msg", "input", "ctx") if key in error} for error in errors
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def prepare(container: Container, *, migrate: bool | None = None) -> None:
    """Migrate (``migrate``, default: the auto_migrate setting), seed the organisation tree if empty.

    The embedded default runs this on start; `gopy prestart` runs it with ``migrate=True`` (its whole point)."""
    from sqlalchemy import func, select

    from backend.db.migrate import upgrade
    from backend.db.models import OrgUnit
    from backend.services.units import seed_units

    container.validate_data()  # malformed routing rules or templates stop the start-up here, naming file and line
    if container.settings.auto_migrate if migrate is None else migrate:
        upgrade(container.engine)
    with container.scope() as session:
        if (session.scalar(select(func.count()).select_from(OrgUnit)) or 0) == 0:
            report = seed_units(session)
            log.info("seeded %d Front committees", len(report.added))


async def _run_workers(container: Container, stop: asyncio.Event) -> None:
    from backend.workers.runner import run_workers

    await run_workers(container, stop)


class GopyApp(FastAPI):
    """FastAPI, with the platforms' webhooks answered before its middleware and routing (``/webhooks/``: the path of
    a flood; see backend/api/routes/webhooks.py)."""

    platform_webhooks: ASGIApp | None = None  # (FastAPI's own ``webhooks`` is the OpenAPI document's section)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hooks = self.platform_webhooks
        if hooks is not None and scope["type"] == "http" and scope["path"].startswith(webhooks.PREFIX):
            await hooks(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container else get_settings())
    container = container or Container(settings)
    warn_dev_secret(settings, log)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(prepare, container)
        stop = asyncio.Event()
        task = asyncio.create_task(_run_workers(container, stop)) if settings.run_workers else None
        app.state.stop = stop
        app.state.live = LiveHub(container.live_bus)  # fresh for each start of the server
        watch = asyncio.create_task(live.watch_server_exit(app.state.live))  # ends the event streams on shutdown
        try:
            yield
        finally:
            await app.state.live.close()
            await watch
            stop.set()
            if task is not None:
                await task
            await container.aclose()

    app = GopyApp(
        title="gopy — Mặt trận số",
        summary="Citizens' feedback channel of the Vietnam Fatherland Front: web chat, webhooks, officials' API.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # /docs is served by backend/console/api_docs.py from bundled assets (no CDN)
        redoc_url=None,
    )
    app.state.container = container
    app.openapi = api_docs.vietnam_time_examples(  # type: ignore[method-assign]
        app, lambda schema: webhooks.document(schema, sorted(container.channels.channels))
    )  # +07:00 in the examples; the platform webhooks' endpoint added to FastAPI's routes
    app.state.live = LiveHub(container.live_bus)  # the console's event streams (GET /console/events)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # CSP, framing, no-store on officials' pages and API
    app.add_exception_handler(RequestValidationError, validation_error)

    @app.exception_handler(console.LoginRequired)
    async def _login(_request: Request, _exc: Exception) -> Response:
        return RedirectResponse("/console/login", status_code=303)

    @app.get("/", include_in_schema=False)
    def root() -> dict[str, Any]:
        return {"name": "gopy", "chat": "/chat", "console": "/console", "docs": "/docs"}

    app.platform_webhooks = webhooks.WebhookEndpoint(lambda: app.state.container.channels)
    for extra in (ticket_exports, report_files):  # before tickets: /api/tickets/export is not a ticket code
        app.include_router(extra.router)
    for module in (health, webchat, nlu, auth, tickets, open311):
        app.include_router(module.router)
    app.include_router(reply_templates_api.router)
    app.include_router(officials.router)
    for own in (api_docs, live, console_officials):  # before the console: /console/static/live.js, favicon.svg
        app.include_router(own.router)
    app.include_router(console_nlu.router)  # the admins' NLU workbench, /console/nlu
    app.include_router(console.router)
    for mine in (summary_api, console_reports):  # summary reports, /console/reports, /cong-khai
        app.include_router(mine.router)
    app.include_router(console_account.router)  # /console/account: linking Telegram (officials' notifications)
    app.include_router(chat_page.router)
    return app
