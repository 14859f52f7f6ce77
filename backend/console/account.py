"""Console page "Tài khoản" (``/console/account``): linking the official's Telegram, to receive ticket notifications
there and answer citizens by replying to them (backend/services/official_telegram.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from backend.api.deps import ContainerDep, SessionDep, SettingsDep
from backend.console.messages import banner
from backend.console.routes import ConsoleOfficial, _check_csrf, _page
from backend.services.official_telegram import CODE_TTL, IssuedCode, link_of

router = APIRouter(prefix="/console/account", include_in_schema=False)
STYLESHEET = Path(__file__).parent / "static" / "account.css"


def _account(
    request: Request, container: ContainerDep, session: SessionDep, official: ConsoleOfficial, **ctx: object
) -> HTMLResponse:
    return _page(
        request,
        "account.html",
        official=official,
        link=link_of(session, official),
        telegram=container.channels.get("telegram") is not None,
        minutes=int(CODE_TTL.total_seconds() // 60),
        **ctx,
    )


@router.get("/account.css")
def stylesheet() -> FileResponse:
    return FileResponse(
        STYLESHEET, media_type="text/css; charset=utf-8", headers={"Cache-Control": "public, max-age=300"}
    )


@router.get("", response_class=HTMLResponse)
def account(
    request: Request, container: ContainerDep, session: SessionDep, official: ConsoleOfficial, msg: str | None = None
) -> HTMLResponse:
    shown = banner(msg) if msg in ("telegram_unlinked", "telegram_not_linked") else None
    return _account(request, container, session, official, banner=shown)


def _csrf_checked(request: Request, settings: SettingsDep, csrf: Annotated[str, Form(max_length=256)] = "") -> None:
    _check_csrf(request, settings, csrf)


CsrfChecked = Annotated[None, Depends(_csrf_checked)]


@router.post("/telegram/code", response_class=HTMLResponse)
def telegram_code(
    request: Request, container: ContainerDep, session: SessionDep, official: ConsoleOfficial, _csrf: CsrfChecked
) -> HTMLResponse:
    """A new one-time code, shown once on this page (never in a URL; only its HMAC is stored)."""
    issued: IssuedCode = container.official_telegram.issue_code(session, official)
    return _account(request, container, session, official, issued=issued)


@router.post("/telegram/unlink")
def telegram_unlink(
    container: ContainerDep, session: SessionDep, official: ConsoleOfficial, _csrf: CsrfChecked
) -> Response:
    removed = container.official_telegram.unlink(session, official)
    code = "telegram_unlinked" if removed else "telegram_not_linked"
    return RedirectResponse(f"/console/account?msg={code}", status_code=303)
