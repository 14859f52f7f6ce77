"""The officials' web console: server-rendered pages over the same use cases as the JSON API
(backend/services/usecases.py)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from backend.api.deps import ClientAddress, LoginGuardDep, SessionDep, SettingsDep, TextsDep, TicketCasesDep
from backend.config import Settings
from backend.console.messages import banner, code_for_text, refusal_code
from backend.db.models import Official
from backend.domain.deadlines import VN_TZ
from backend.domain.statuses import ALL_STATUSES
from backend.domain.taxonomy import CATEGORIES
from backend.services.accounts import (
    LoginTooFast,
    close_console_session,
    console_session_official,
    open_console_session,
)
from backend.services.audit import audit
from backend.services.security import csrf_ok, csrf_token
from backend.services.usecases import Refused, TicketNotFound, TicketView
from nlu.vocab import MAX_TEXT

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
    cases: TicketCasesDep,
    texts: TextsDep,
    official: ConsoleOfficial,
    status: str | None = None,
    page: int = 1,
    msg: str | None = None,
) -> HTMLResponse:
    status = status if status in ALL_STATUSES else None
    page = min(max(page, 1), 100_000)  # a crafted page number must not overflow the query
    found = cases.list(session, official, status=status, offset=(page - 1) * 50, limit=50)
    return _page(
        request,
        "list.html",
        official=official,
        tickets=found.tickets,
        count=found.count,
        status=status,
        page=page,
        statuses=ALL_STATUSES,
        texts=texts,
        banner=banner(msg) if msg == "reassigned" else None,
    )


NOT_FOUND = "Không tìm thấy phản ánh"


@router.get("/tickets/{code}", response_class=HTMLResponse)
def ticket_page(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    texts: TextsDep,
    official: ConsoleOfficial,
    settings: SettingsDep,
    msg: str | None = None,
    n: int = 0,
) -> HTMLResponse:
    try:
        view = cases.view(session, official, code)
    except TicketNotFound:
        raise HTTPException(404, NOT_FOUND) from None
    return _page(
        request,
        "ticket.html",
        official=official,
        t=view.detail,
        banner=banner(msg, n=min(max(n, 0), 10_000), max=MAX_TEXT),
        next_statuses=view.next_statuses,
        texts=texts,
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


def _done(action: Callable[[], TicketView], done: str, refused: str) -> Response:
    """Run a use case: back to the ticket with the ``done`` banner, or with the banner of the refusal (``refused``
    when none fits); 404 for a ticket the official may not see."""
    try:
        view = action()
    except TicketNotFound:
        raise HTTPException(404, NOT_FOUND) from None
    except Refused as exc:
        return _back(exc.code or "", refusal_code(exc.reason, refused))
    return _back(view.code, done)


@router.post("/tickets/{code}/reply")
def post_reply(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    text: Annotated[str, Form(max_length=8000)],
    csrf: Annotated[str, Form(max_length=256)] = "",
    cluster: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    text = unicodedata.normalize("NFC", text).strip()
    try:
        replied = cases.reply(session, official, code, text, cluster=bool(cluster))
    except TicketNotFound:
        raise HTTPException(404, NOT_FOUND) from None
    except Refused as exc:
        return _back(exc.code or "", "reply_length")
    if len(replied.answered) == 1:
        return _back(replied.view.code, "replied")
    return _back(replied.view.code, "replied_many", n=len(replied.answered))


@router.post("/tickets/{code}/reassign")
def post_reassign(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    unit: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=8000)],
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    try:
        cases.reassign(session, official, code, unit.strip(), reason.strip())
    except TicketNotFound:
        raise HTTPException(404, NOT_FOUND) from None
    except Refused as exc:
        return _back(exc.code or "", refusal_code(exc.reason, "reassign_refused"))
    return RedirectResponse("/console?msg=reassigned", status_code=303)


@router.post("/tickets/{code}/status")
def post_status(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    status: Annotated[str, Form(max_length=32)],
    note: Annotated[str, Form(max_length=8000)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    action = partial(cases.change_status, session, official, code, status, note.strip() or None)
    return _done(action, "status_changed", "status_refused")


@router.post("/tickets/{code}/note")
def post_note(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    text: Annotated[str, Form(max_length=8000)],
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    return _done(partial(cases.add_note, session, official, code, text.strip()), "note_added", "note_empty")


@router.post("/tickets/{code}/category")
def post_category(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    category: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    action = partial(cases.correct_category, session, official, code, category)
    return _done(action, "category_corrected", "category_refused")
