"""The officials' web console: server-rendered pages over the same use cases as the JSON API
(backend/services/usecases.py)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from backend.api.deps import (
    ClientAddress,
    LoginGuardDep,
    SessionDep,
    SettingsDep,
    TextsDep,
    TicketCasesDep,
    TicketOpsDep,
)
from backend.config import Settings
from backend.console.messages import (
    ACTOR_NAMES,
    CHANNEL_NAMES,
    FILTER_LABELS,
    banner,
    code_for_text,
    event_name,
    refusal_code,
)
from backend.db.models import Official, utcnow
from backend.domain.deadlines import VN_TZ
from backend.domain.statuses import ALL_STATUSES, FINAL_STATUSES
from backend.domain.taxonomy import CATEGORIES
from backend.services import saved_views as inbox
from backend.services import ticket_page as page_info
from backend.services.accounts import LoginTooFast, console_session_official
from backend.services.console_login import console_login, console_logout
from backend.services.presenters import time_left
from backend.services.reply_templates import ReplyTemplates
from backend.services.security import csrf_ok, csrf_token
from backend.services.ticket_query import COUNT_CAP, QueryError, TicketQuery, UnitOutOfScope, unit_choices
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
    types = {
        "console.css": "text/css; charset=utf-8",
        "console.js": "text/javascript; charset=utf-8",
        "ticket.js": "text/javascript; charset=utf-8",
        "inbox.js": "text/javascript; charset=utf-8",
    }
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
        session_id = console_login(session, guard, username, password, address, settings.token_ttl_minutes * 60)
    except LoginTooFast as exc:
        page = _page(request, "login.html", banner=banner("login_throttled", minutes=-(-exc.retry_after // 60)))
        page.status_code = 429
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except LookupError:
        return _page(request, "login.html", banner=banner("login_failed"))
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
    console_logout(session, official, request.cookies.get(COOKIE, ""))  # server-side: a copied cookie dies too
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
    page: int = 1,
    msg: str | None = None,
) -> HTMLResponse:
    """The inbox: search, filters, sort and paging (the query string of ``GET /api/tickets``), built-in and saved
    views as tabs; a filter value that makes no sense shows a banner and the unfiltered list."""
    params = {k: v[:200] for k, v in request.query_params.items() if k in inbox.FILTER_KEYS}
    page = min(max(page, 1), 100_000)  # a crafted page number must not overflow the query
    shown = banner(msg) if msg in ("reassigned", "view_saved", "view_deleted", "view_name") else None
    try:
        query = inbox.parse_filters(params)
        found = cases.list(session, official, query, offset=(page - 1) * PAGE, limit=PAGE)
    except QueryError as exc:
        shown, query = banner("filter_invalid", field=FILTER_LABELS.get(exc.field, exc.field)), TicketQuery()
        found = cases.list(session, official, query, offset=0, limit=PAGE)
    except UnitOutOfScope:
        shown, query = banner("filter_unit"), TicketQuery()
        found = cases.list(session, official, query, offset=0, limit=PAGE)
    current = query.params()
    views = [(v.id, v.name, dict(parse_qsl(v.query))) for v in inbox.views_of(session, official)]
    logins = {t.assignee for t in found.tickets if t.assignee}
    named = select(Official.username, Official.full_name).where(Official.username.in_(logins))
    people = {login: name for login, name in session.execute(named)}
    return _page(
        request,
        "list.html",
        official=official,
        tickets=found.tickets,
        assignee_names={login: people.get(login) or login for login in logins},  # full names, as on the ticket page
        count=min(found.count, COUNT_CAP),
        count_capped=found.count > COUNT_CAP,  # "hơn 10.000": the pages stop there, the filters narrow it down
        query=current,
        query_string=urlencode(current),
        page=page,
        pages=max(1, -(-min(found.count, COUNT_CAP) // PAGE)),
        page_link=lambda n: "/console?" + urlencode({**current, "page": n}),
        tabs=[(name, tab, tab == current) for name, tab in _tabs()],
        views=[(view_id, name, "/console?" + urlencode(q), q == current) for view_id, name, q in views],
        statuses=ALL_STATUSES,
        categories=list(CATEGORIES),
        channels=CHANNEL_NAMES,
        units=unit_choices(session, official, query.unit),
        now=utcnow(),
        time_left=time_left,
        final=FINAL_STATUSES,
        texts=texts,
        banner=shown,
    )


PAGE = 50


def _tabs() -> list[tuple[str, dict[str, str]]]:
    """The built-in views: every ticket, mine, the open overdue ones, the open urgent ones."""
    open_ = ",".join(s for s in ALL_STATUSES if s not in FINAL_STATUSES)
    return [
        ("Tất cả", {}),
        ("Của tôi", {"assignee": "me"}),
        ("Quá hạn", {"status": open_, "overdue": "true"}),
        ("Khẩn", {"status": open_, "urgent": "true"}),
    ]


@router.post("/views")
def save_view(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    name: Annotated[str, Form(max_length=200)] = "",
    query: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """Save the list's current filters under a name, as a tab of this official's own."""
    _check_csrf(request, settings, csrf)
    try:
        view = inbox.save_view(session, official, name, query)
    except inbox.ViewRefused:
        return RedirectResponse("/console?msg=view_name", status_code=303)
    return RedirectResponse(f"/console?{view.query}&msg=view_saved".replace("?&", "?"), status_code=303)


@router.post("/views/{view_id}/delete")
def delete_view(
    request: Request,
    view_id: int,
    session: SessionDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    _check_csrf(request, settings, csrf)
    if not inbox.delete_view(session, official, view_id):
        raise HTTPException(404, "Không tìm thấy chế độ xem")
    return RedirectResponse("/console?msg=view_deleted", status_code=303)


NOT_FOUND = "Không tìm thấy phản ánh"


def _error_page(request: Request, official: Official, code: str | None, msg: str, status: int) -> HTMLResponse:
    """A Vietnamese page for a refused request (never raw JSON): the banner and a way back."""
    page = _page(request, "ticket_error.html", official=official, code=code, banner=banner(msg, max=MAX_TEXT))
    page.status_code = status
    return page


def _csrf_refused(
    request: Request, settings: Settings, official: Official, code: str, submitted: str
) -> Response | None:
    """403 with a Vietnamese page when the form's CSRF token is missing or stale (an old tab, a forged post)."""
    if csrf_ok(settings.secret_key, request.cookies.get(COOKIE, ""), submitted):
        return None
    return _error_page(request, official, code, "csrf", 403)


@router.get("/tickets/{code}", response_class=HTMLResponse)
def ticket_page(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    ops: TicketOpsDep,
    texts: TextsDep,
    official: ConsoleOfficial,
    msg: str | None = None,
    n: int = 0,
    template: str | None = None,
) -> HTMLResponse:
    try:
        view = cases.view(session, official, code)
        ticket = ops.visible(session, official, code)
    except TicketNotFound:
        return _error_page(request, official, None, "not_found", 404)
    usable = ReplyTemplates.usable(session, official, ticket)
    reply_text = ""
    if template is not None:  # the no-script picker: "Dùng mẫu" re-renders the page with the text filled
        chosen = next((t for t in usable if str(t.id) == template), None)
        msg = "template_used" if chosen is not None else "template_unknown"
        reply_text = chosen.filled or "" if chosen is not None else ""
    return _page(
        request,
        "ticket.html",
        official=official,
        t=view.detail,
        banner=banner(msg, n=min(max(n, 0), 10_000), max=MAX_TEXT),
        statuses=page_info.status_choices(ticket.status),
        texts=texts,
        categories=list(CATEGORIES),
        max_text=MAX_TEXT,
        reply_templates=usable,
        reply_text=reply_text,
        history=page_info.history(session, ticket),
        citizen=page_info.citizen_panel(ticket),
        units=page_info.reassign_choices(session, official, ticket),
        overdue=page_info.is_overdue(ticket),
        assignee=ticket.assignee,
        assignee_name=page_info.official_name(session, ticket.assignee),
        assignable=page_info.assignable_officials(session, ticket),
        cluster=page_info.cluster_members(session, official, ticket) if view.detail.duplicates else [],
        event_name=event_name,
        actor_names=ACTOR_NAMES,
        channel_names=CHANNEL_NAMES,
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


def _done(request: Request, official: Official, action: Callable[[], TicketView], done: str, refused: str) -> Response:
    """Run a use case: back to the ticket with the ``done`` banner, or with the banner of the refusal (``refused``
    when none fits); a Vietnamese 404 page for a ticket the official may not see."""
    try:
        view = action()
    except TicketNotFound:
        return _error_page(request, official, None, "not_found", 404)
    except Refused as exc:
        return _back(exc.code or "", refusal_code(exc.reason, refused))
    return _back(view.code, done)


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


@router.post("/tickets/{code}/reply")
def post_reply(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    ops: TicketOpsDep,
    texts: TextsDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    text: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    cluster: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    if refused := _csrf_refused(request, settings, official, code, csrf):
        return refused
    text = _clean(text)
    if cluster and not confirm:  # a cluster reply: first every ticket it will reach, then the official confirms
        try:
            ticket = ops.visible(session, official, code)
        except TicketNotFound:
            return _error_page(request, official, None, "not_found", 404)
        if not text or len(text) > MAX_TEXT:
            return _back(ticket.code, "reply_length")
        members = page_info.cluster_members(session, official, ticket)
        open_members = [m for m in members if m.status not in FINAL_STATUSES]
        if not open_members:
            return _back(ticket.code, "cluster_none")
        return _page(
            request,
            "ticket_cluster.html",
            official=official,
            code=ticket.code,
            text=text,
            members=members,
            open_count=len(open_members),
            final=FINAL_STATUSES,
            texts=texts,
        )
    try:
        replied = cases.reply(session, official, code, text, cluster=bool(cluster))
    except TicketNotFound:
        return _error_page(request, official, None, "not_found", 404)
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
    ops: TicketOpsDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    unit: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Pick a unit by name in the list, give a reason (the citizen reads it), confirm on a second page."""
    if refused := _csrf_refused(request, settings, official, code, csrf):
        return refused
    try:
        ticket = ops.visible(session, official, code)
    except TicketNotFound:
        return _error_page(request, official, None, "not_found", 404)
    choices = page_info.reassign_choices(session, official, ticket)
    target = page_info.pick_unit(choices, unit)
    reason = _clean(reason)
    if target is None:
        return _back(ticket.code, "reassign_pick_unit")
    if not reason:
        return _back(ticket.code, "reassign_reason")
    if len(reason) > MAX_TEXT:
        return _back(ticket.code, "reassign_reason_length")
    if not confirm:
        label = next(c.label for c in choices if c.code == target)
        return _page(
            request,
            "ticket_reassign.html",
            official=official,
            code=ticket.code,
            current=ticket.unit.name,
            unit=label,
            reason=reason,
        )
    try:
        cases.reassign(session, official, ticket.code, target, reason)
    except Refused as exc:
        return _back(ticket.code, refusal_code(exc.reason, "reassign_refused"))
    return RedirectResponse("/console?msg=reassigned", status_code=303)


@router.post("/tickets/{code}/status")
def post_status(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    status: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if refused := _csrf_refused(request, settings, official, code, csrf):
        return refused
    note = _clean(note)
    if not status or len(note) > MAX_TEXT:
        return _bad_input(
            request, session, cases, official, code, "status_missing" if not status else "status_note_length"
        )
    action = partial(cases.change_status, session, official, code, status[:32], note or None)
    return _done(request, official, action, "status_changed", "status_refused")


@router.post("/tickets/{code}/note")
def post_note(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    text: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if refused := _csrf_refused(request, settings, official, code, csrf):
        return refused
    text = _clean(text)
    if len(text) > MAX_TEXT:
        return _bad_input(request, session, cases, official, code, "note_length")
    return _done(request, official, partial(cases.add_note, session, official, code, text), "note_added", "note_empty")


@router.post("/tickets/{code}/category")
def post_category(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    category: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if refused := _csrf_refused(request, settings, official, code, csrf):
        return refused
    action = partial(cases.correct_category, session, official, code, category[:64])
    return _done(request, official, action, "category_corrected", "category_refused")


@router.post("/tickets/{code}/assign")
def post_assign(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    username: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Give the ticket to one official of its unit ("" gives it back to nobody)."""
    if refused := _csrf_refused(request, settings, official, code, csrf):
        return refused
    action = partial(cases.assign, session, official, code, username.strip()[:64] or None)
    return _done(request, official, action, "assigned", "assign_refused")


@router.post("/tickets/{code}/unlink")
def post_unlink(
    request: Request,
    code: str,
    session: SessionDep,
    cases: TicketCasesDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    member: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Take a wrongly linked ticket out of this ticket's duplicate cluster (recorded in both histories)."""
    if refused := _csrf_refused(request, settings, official, code, csrf):
        return refused
    action = partial(cases.unlink_duplicate, session, official, code, member.strip()[:32])
    return _done(request, official, action, "unlinked", "unlink_refused")


def _bad_input(
    request: Request, session: SessionDep, cases: TicketCasesDep, official: Official, code: str, msg: str
) -> Response:
    """Back to the ticket with the banner of a malformed form, once the ticket is known to be visible."""
    try:
        ticket = cases.ops.visible(session, official, code)
    except TicketNotFound:
        return _error_page(request, official, None, "not_found", 404)
    return _back(ticket.code, msg)
