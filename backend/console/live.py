"""Live updates in the console: ``GET /console/events`` (server-sent events), its script and the console's icon.

The stream is opened with the console session cookie. It reads the official and the units in their scope once (a
short database session, closed before streaming: an idle stream holds no connection), then forwards the ticket
changes of :class:`~backend.services.live.LiveHub` that those units may see, as ``event: ticket`` with
``{"code", "kind", "urgent"}``, and a keep-alive comment every ``KEEPALIVE`` seconds. A stream ends after
``MAX_SECONDS`` (the browser reconnects, and the session is checked again: a revoked session gets 401), when the
browser goes away, and when the server shuts down (:func:`watch_server_exit`: uvicorn waits for open responses
before it stops, so the streams must end first).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from backend.api.deps import ContainerDep
from backend.console.routes import COOKIE
from backend.container import Container
from backend.services.accounts import console_session_official
from backend.services.live import LiveHub
from backend.services.tickets import unit_scope

STATIC = Path(__file__).parent / "static"
KEEPALIVE = 15.0
MAX_SECONDS = 300.0
FILES = {
    "live.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
router = APIRouter(prefix="/console", include_in_schema=False)


def _file(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=FILES[name], headers={"Cache-Control": "public, max-age=300"})


@router.get("/static/live.js")
def live_script() -> FileResponse:
    """The live-update script (the console's other files are served by backend/console/routes.py)."""
    return _file("live.js")


@router.get("/static/favicon.svg")
def favicon() -> FileResponse:
    return _file("favicon.svg")


def hub_of(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.live
    return hub


def _scope_of(container: Container, session_id: str) -> frozenset[str] | None:
    """The units whose tickets the session's official may see, or ``None`` for no live session."""
    with container.scope() as session:
        official = console_session_official(session, session_id)
        if official is None:
            return None
        return frozenset(session.scalars(select(unit_scope(official).subquery().c.code)))


def _frame(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def stream(
    hub: LiveHub, scope: frozenset[str], keepalive: float = KEEPALIVE, max_seconds: float = MAX_SECONDS
) -> AsyncIterator[str]:
    """The event stream of one official: ``retry``, then their ticket changes and keep-alive comments."""
    yield "retry: 3000\n: gopy live\n\n"
    ends = time.monotonic() + max_seconds
    async with hub.subscribe(scope) as queue:
        while (left := ends - time.monotonic()) > 0:
            try:
                change = await asyncio.wait_for(queue.get(), timeout=min(keepalive, left))
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if change is None:  # the server is shutting down
                yield _frame("bye", "{}")
                return
            yield _frame("ticket", change.public())  # the hub sends only what the scope may see


@router.get("/events")
async def events(request: Request, container: ContainerDep) -> StreamingResponse:
    """Server-sent events: the changes of the tickets this official may see."""
    scope = await run_in_threadpool(_scope_of, container, request.cookies.get(COOKIE, ""))  # FastAPI's own pool
    if scope is None:
        raise HTTPException(401, "Not authenticated / Chưa đăng nhập hoặc phiên đã hết hạn")
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # no proxy buffering of the stream
    return StreamingResponse(stream(hub_of(request), scope), media_type="text/event-stream", headers=headers)


def _uvicorn_server() -> Any | None:
    """The uvicorn server running this event loop, if any (its ``serve`` coroutine is one of the loop's tasks)."""
    for task in asyncio.all_tasks():
        coro: Any = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        owner = frame.f_locals.get("self") if frame is not None else None
        if isinstance(owner, uvicorn.Server):
            return owner
    return None


async def watch_server_exit(hub: LiveHub, every: float = 0.2) -> None:
    """End every stream as soon as uvicorn starts shutting down (a signal, or ``should_exit`` set by a test);
    without it uvicorn would wait for the streams before stopping. Returns at once outside uvicorn."""
    server = _uvicorn_server()
    if server is None:
        return
    with contextlib.suppress(asyncio.CancelledError):
        while not server.should_exit and not hub.closed:  # noqa: ASYNC110  (a plain flag of uvicorn's: polled)
            await asyncio.sleep(every)
    await hub.close()
