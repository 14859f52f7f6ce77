"""The officials' web console: server-rendered pages over the same services as the JSON API."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from backend.api.deps import ContainerDep, SessionDep, SettingsDep
from backend.api.routes.auth import authenticate
from backend.config import Settings
from backend.db.models import Official
from backend.domain.statuses import ALL_STATUSES, TRANSITIONS, TransitionError
from backend.domain.taxonomy import CATEGORIES
from backend.services.audit import audit
from backend.services.presenters import ticket_detail, ticket_public
from backend.services.security import TokenSigner, csrf_ok, csrf_token
from backend.services.tickets import TicketNotFound

COOKIE = "gopy_session"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(prefix="/console", include_in_schema=False)


class LoginRequired(Exception):
    pass


def _signer(settings: Settings) -> TokenSigner:
    return TokenSigner(settings.secret_key, "console")


def console_official(request: Request, session: SessionDep, settings: SettingsDep) -> Official:
    token = request.cookies.get(COOKIE, "")
    payload = _signer(settings).verify(token) if token else None
    official = session.get(Official, int(payload["sub"])) if payload else None
    if official is None or not official.active:
        raise LoginRequired
    request.state.csrf = csrf_token(settings.secret_key, token)
    return official


ConsoleOfficial = Annotated[Official, Depends(console_official)]


def _check_csrf(request: Request, settings: Settings, submitted: str) -> None:
    if not csrf_ok(settings.secret_key, request.cookies.get(COOKIE, ""), submitted):
        raise HTTPException(403, "CSRF token missing or invalid / Phiên làm việc không hợp lệ, vui lòng tải lại trang")


def _page(request: Request, name: str, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("csrf", getattr(request.state, "csrf", ""))
    return templates.TemplateResponse(request, name, ctx)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, error: str | None = None) -> HTMLResponse:
    return _page(request, "login.html", error=error)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    official = authenticate(session, username, password)
    if official is None:
        return _page(request, "login.html", error="Sai tên đăng nhập hoặc mật khẩu.")
    token = _signer(settings).sign({"sub": official.id}, settings.token_ttl_minutes * 60)
    resp = RedirectResponse("/console", status_code=303)
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.public_url.startswith("https"),
        max_age=settings.token_ttl_minutes * 60,
    )
    return resp


@router.post("/logout")
def logout(
    request: Request, settings: SettingsDep, official: ConsoleOfficial, csrf: Annotated[str, Form()] = ""
) -> Response:
    _check_csrf(request, settings, csrf)
    resp = RedirectResponse("/console/login", status_code=303)
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
) -> HTMLResponse:
    status = status if status in ALL_STATUSES else None
    page = max(page, 1)
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
    ok: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    ticket = _ticket(session, container, official, code)
    audit(session, official, "view", "ticket", ticket.code)
    detail = ticket_detail(session, ticket)
    session.commit()
    return _page(
        request,
        "ticket.html",
        official=official,
        t=detail,
        ok=ok,
        error=error,
        next_statuses=sorted(TRANSITIONS[ticket.status]),
        texts=container.texts,
        categories=list(CATEGORIES),
    )


def _back(code: str, *, ok: str | None = None, error: str | None = None) -> RedirectResponse:
    query = f"?ok={quote(ok)}" if ok else f"?error={quote(error or '')}"
    return RedirectResponse(f"/console/tickets/{code}{query}", status_code=303)


@router.post("/tickets/{code}/reply")
def post_reply(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    text: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    cluster: Annotated[str, Form()] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    ticket = _ticket(session, container, official, code)
    text = unicodedata.normalize("NFC", text).strip()
    if not text or len(text) > settings.max_text_length:
        return _back(ticket.code, error=f"Nội dung trả lời phải từ 1 đến {settings.max_text_length} ký tự.")
    targets = container.ops.reply_all(session, official, ticket, text, bool(cluster))
    for target in targets:
        audit(session, official, "reply", "ticket", target.code, cluster=bool(cluster))
    session.commit()
    sent = "Đã gửi trả lời tới người dân." if len(targets) == 1 else f"Đã gửi trả lời tới {len(targets)} phản ánh."
    return _back(ticket.code, ok=sent)


@router.post("/tickets/{code}/reassign")
def post_reassign(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    unit: Annotated[str, Form()],
    reason: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    ticket = _ticket(session, container, official, code)
    try:
        container.ops.reassign(session, official, ticket, unit.strip(), reason.strip())
    except TransitionError as exc:
        return _back(ticket.code, error=str(exc))
    audit(session, official, "reassign", "ticket", ticket.code, unit=unit)
    session.commit()
    return RedirectResponse("/console", status_code=303)


@router.post("/tickets/{code}/status")
def post_status(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    status: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    ticket = _ticket(session, container, official, code)
    try:
        container.ops.change_status(session, official, ticket, status, note.strip() or None)
    except TransitionError as exc:
        return _back(ticket.code, error=str(exc))
    audit(session, official, "status", "ticket", ticket.code, new=status)
    session.commit()
    return _back(ticket.code, ok="Đã cập nhật trạng thái.")


@router.post("/tickets/{code}/note")
def post_note(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    text: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    ticket = _ticket(session, container, official, code)
    if not text.strip():
        return _back(ticket.code, error="Ghi chú trống.")
    container.ops.add_note(session, official, ticket, text.strip())
    audit(session, official, "note", "ticket", ticket.code)
    session.commit()
    return _back(ticket.code, ok="Đã thêm ghi chú nội bộ.")


@router.post("/tickets/{code}/category")
def post_category(
    request: Request,
    code: str,
    session: SessionDep,
    container: ContainerDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    category: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    ticket = _ticket(session, container, official, code)
    try:
        container.ops.correct_category(session, official, ticket, category)
    except TransitionError as exc:
        return _back(ticket.code, error=str(exc))
    audit(session, official, "correct", "ticket", ticket.code, category=category)
    session.commit()
    return _back(ticket.code, ok="Đã sửa lĩnh vực; ghi nhận làm dữ liệu huấn luyện.")
