"""The officials' web console: server-rendered pages over the same services as the JSON API."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from backend.api.deps import ClientAddress, ContainerDep, LoginGuardDep, SessionDep, SettingsDep
from backend.config import Settings
from backend.console.messages import banner, code_for_text, refusal_code
from backend.db.models import Official
from backend.domain.deadlines import VN_TZ
from backend.domain.statuses import ALL_STATUSES, TRANSITIONS, TransitionError
from backend.domain.taxonomy import CATEGORIES
from backend.services.accounts import (
    LoginTooFast,
    close_console_session,
    console_session_official,
    open_console_session,
)
from backend.services.audit import audit
from backend.services.presenters import ticket_detail, ticket_public
from backend.services.security import csrf_ok, csrf_token
from backend.services.tickets import TicketNotFound

COOKIE = "gopy_session"
STATIC = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def vn_time(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A stored UTC time as officials read it: Vietnam time (Asia/Ho_Chi_Minh)."""
    return value.astimezone(VN_TZ).strftime(fmt) if value is not None else "—"


templates.env.filters["vn"] = vn_time
router = APIRouter(prefix="/console", include_in_schema=False)


class LoginRequired(Exception):
    pass


def console_official(request: Request, session: SessionDep, settings: SettingsDep) -> Official:
    """The official of a live server-side session (the cookie holds a random id; logging out revokes it)."""
    session_id = request.cookies.get(COOKIE, "")
    official = console_session_official(session, session_id)
    if official is None:
        raise LoginRequired
    request.state.csrf = csrf_token(settings.secret_key, session_id)
    return official


ConsoleOfficial = Annotated[Official, Depends(console_official)]


def _check_csrf(request: Request, settings: Settings, submitted: str) -> None:
    if not csrf_ok(settings.secret_key, request.cookies.get(COOKIE, ""), submitted):
        raise HTTPException(403, "CSRF token missing or invalid / Phiên làm việc không hợp lệ, vui lòng tải lại trang")


def _page(request: Request, name: str, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("csrf", getattr(request.state, "csrf", ""))
    return templates.TemplateResponse(request, name, ctx)


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """The console's stylesheet and script (no inline code: the Content-Security-Policy forbids it)."""
    types = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
    if name not in types:
        raise HTTPException(404, "Not found / Không tìm thấy")
    return FileResponse(STATIC / name, media_type=types[name], headers={"Cache-Control": "public, max-age=300"})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, msg: str | None = None) -> HTMLResponse:
    return _page(request, "login.html", banner=banner(msg) if msg in ("logged_out",) else None)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    guard: LoginGuardDep,
    address: ClientAddress,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        official = guard.authenticate(session, username, password, address, "console")
    except LoginTooFast as exc:
        session.commit()
        page = _page(request, "login.html", banner=banner("login_throttled", minutes=-(-exc.retry_after // 60)))
        page.status_code = 429
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except LookupError:
        session.commit()
        return _page(request, "login.html", banner=banner("login_failed"))
    session_id = open_console_session(session, official, settings.token_ttl_minutes * 60)
    audit(session, official, "login", "official", official.username, channel="console")
    session.commit()
    resp = RedirectResponse("/console", status_code=303)
    resp.set_cookie(
        COOKIE,
        session_id,
        httponly=True,
        samesite="strict",
        secure=settings.public_url.startswith("https"),
        max_age=settings.token_ttl_minutes * 60,
    )
    return resp


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    close_console_session(session, request.cookies.get(COOKIE, ""))  # server-side: a copied cookie dies too
    audit(session, official, "logout", "official", official.username, channel="console")
    session.commit()
    resp = RedirectResponse("/console/login?msg=logged_out", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


@router.get("", response_class=HTMLResponse)
def ticket_list(
    request: Request,
    session: SessionDep,
    container: ContainerDep,
    official: ConsoleOfficial,
    status: str | None = None,
    page: int = 1,
    msg: str | None = None,
) -> HTMLResponse:
    status = status if status in ALL_STATUSES else None
    page = min(max(page, 1), 100_000)  # a crafted page number must not overflow the query
    rows, count = container.ops.list_for(session, official, status=status, offset=(page - 1) * 50, limit=50)
    audit(session, official, "list", "ticket", "*", status=status, page=page)
    session.commit()
    return _page(
        request,
        "list.html",
        official=official,
        tickets=[ticket_public(session, t) for t in rows],
        count=count,
        status=status,
        page=page,
        statuses=ALL_STATUSES,
        texts=container.texts,
        banner=banner(msg) if msg == "reassigned" else None,
    )


def _ticket(session: Session, container: ContainerDep, official: Official, code: str) -> Any:
    try:
        return container.ops.visible(session, official, code)
    except TicketNotFound:
        raise HTTPException(404, "Không tìm thấy phản ánh") from None


@router.get("/tickets/{code}", response_class=HTMLResponse)
def ticket_page(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    official: ConsoleOfficial,
    settings: SettingsDep,
    msg: str | None = None,
    n: int = 0,
) -> HTMLResponse:
    ticket = _ticket(session, container, official, code)
    audit(session, official, "view", "ticket", ticket.code)
    detail = ticket_detail(session, ticket, official)
    session.commit()
    return _page(
        request,
        "ticket.html",
        official=official,
        t=detail,
        banner=banner(msg, n=min(max(n, 0), 10_000), max=settings.max_text_length),
        next_statuses=sorted(TRANSITIONS[ticket.status]),
        texts=container.texts,
        categories=list(CATEGORIES),
    )


def _back(
    code: str, msg: str | None = None, *, n: int = 0, ok: str | None = None, error: str | None = None
) -> RedirectResponse:
    """Back to the ticket with a banner code (see console/messages.py); a text passed as ``ok``/``error`` is mapped
    to its code, never put in the URL."""
    if msg is None:
        msg = code_for_text(ok, "done") if ok else code_for_text(error or "", "error")
    query = f"?msg={msg}" + (f"&n={n}" if n else "")
    return RedirectResponse(f"/console/tickets/{code}{query}", status_code=303)


@router.post("/tickets/{code}/reply")
def post_reply(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    text: Annotated[str, Form(max_length=8000)],
    csrf: Annotated[str, Form(max_length=256)] = "",
    cluster: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    ticket = _ticket(session, container, official, code)
    text = unicodedata.normalize("NFC", text).strip()
    if not text or len(text) > settings.max_text_length:
        return _back(ticket.code, "reply_length")
    targets = container.ops.reply_all(session, official, ticket, text, bool(cluster))
    for target in targets:
        audit(session, official, "reply", "ticket", target.code, cluster=bool(cluster))
    session.commit()
    return _back(ticket.code, "replied") if len(targets) == 1 else _back(ticket.code, "replied_many", n=len(targets))


@router.post("/tickets/{code}/reassign")
def post_reassign(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    unit: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=8000)],
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    ticket = _ticket(session, container, official, code)
    try:
        container.ops.reassign(session, official, ticket, unit.strip(), reason.strip())
    except TransitionError as exc:
        return _back(ticket.code, refusal_code(str(exc), "reassign_refused"))
    audit(session, official, "reassign", "ticket", ticket.code, unit=unit)
    session.commit()
    return RedirectResponse("/console?msg=reassigned", status_code=303)


@router.post("/tickets/{code}/status")
def post_status(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    status: Annotated[str, Form(max_length=32)],
    note: Annotated[str, Form(max_length=8000)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    ticket = _ticket(session, container, official, code)
    try:
        container.ops.change_status(session, official, ticket, status, note.strip() or None)
    except TransitionError as exc:
        return _back(ticket.code, refusal_code(str(exc), "status_refused"))
    audit(session, official, "status", "ticket", ticket.code, new=status)
    session.commit()
    return _back(ticket.code, "status_changed")


@router.post("/tickets/{code}/note")
def post_note(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    text: Annotated[str, Form(max_length=8000)],
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    ticket = _ticket(session, container, official, code)
    if not text.strip():
        return _back(ticket.code, "note_empty")
    container.ops.add_note(session, official, ticket, text.strip())
    audit(session, official, "note", "ticket", ticket.code)
    session.commit()
    return _back(ticket.code, "note_added")


@router.post("/tickets/{code}/category")
def post_category(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    category: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    ticket = _ticket(session, container, official, code)
    try:
        container.ops.correct_category(session, official, ticket, category)
    except TransitionError as exc:
        return _back(ticket.code, refusal_code(str(exc), "category_refused"))
    audit(session, official, "correct", "ticket", ticket.code, category=category)
    session.commit()
    return _back(ticket.code, "category_corrected")
