"""The FastAPI application: API, webhooks, console, web chat; workers run inside when embedded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from backend.api.routes import auth, health, nlu, open311, tickets, webchat, webhooks
from backend.config import Settings, get_settings
from backend.console import routes as console
from backend.container import Container
from backend.webchat import routes as chat_page

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000


class BodyLimit(BaseHTTPMiddleware):
    """Refuse oversized requests before reading them."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"detail": "request body too large / dữ liệu gửi lên quá lớn"}, status_code=413)
        return await call_next(request)


def prepare(container: Container) -> None:
    """Prestart for the embedded default: migrate, seed the organisation tree if empty."""
    from sqlalchemy import func, select

    from backend.db.migrate import upgrade
    from backend.db.models import OrgUnit
    from backend.services.units import seed_units

    if container.settings.auto_migrate:
        upgrade(container.engine)
    with container.scope() as session:
        if (session.scalar(select(func.count()).select_from(OrgUnit)) or 0) == 0:
            report = seed_units(session)
            log.info("seeded %d Front committees", len(report.added))


async def _run_workers(container: Container, stop: asyncio.Event) -> None:
    from backend.workers.runner import run_workers

    await run_workers(container, stop)


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container else get_settings())
    container = container or Container(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(prepare, container)
        stop = asyncio.Event()
        task = asyncio.create_task(_run_workers(container, stop)) if settings.run_workers else None
        app.state.stop = stop
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            await container.aclose()

    app = FastAPI(
        title="gopy — Mặt trận số",
        summary="Citizens' feedback channel of the Vietnam Fatherland Front: web chat, webhooks, officials' API.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.container = container
    app.add_middleware(BodyLimit)

    @app.exception_handler(console.LoginRequired)
    async def _login(_request: Request, _exc: Exception) -> Response:
        return RedirectResponse("/console/login", status_code=303)

    @app.get("/", include_in_schema=False)
    def root() -> dict[str, Any]:
        return {"name": "gopy", "chat": "/chat", "console": "/console", "docs": "/docs"}

    for module in (health, webchat, nlu, auth, tickets, open311):
        app.include_router(module.router)
    app.include_router(console.router)
    app.include_router(chat_page.router)
    app.include_router(webhooks.router)
    return app
