"""The console page for managing officials' accounts (``/console/officials``), over backend/services/officials.py.

Supervisors and admins only (others get a Vietnamese 403 page); the same rules as ``/api/officials``. A temporary
password is shown once, in the page that answers the form (never in a URL).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.deps import SessionDep, SettingsDep
from backend.console.messages import Banner, banner
from backend.console.routes import ConsoleOfficial, _check_csrf, _page
from backend.db.models import Official, OrgUnit
from backend.services import officials as accounts

router = APIRouter(prefix="/console/officials", include_in_schema=False)
ROLE_NAMES = {"officer": "Cán bộ", "supervisor": "Lãnh đạo đơn vị", "admin": "Quản trị viên"}
UNIT_CHOICES = 400  # more units than this (the central committee's whole tree): typed as a code instead
Text = Annotated[str, Form(max_length=200)]


def _render(
    request: Request,
    session: Session,
    official: Official,
    shown: Banner | None = None,
    temporary: tuple[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    if official.role not in accounts.MANAGERS:
        page = _page(request, "officials.html", official=official, forbidden=True, banner=banner("officials_forbidden"))
        page.status_code = 403
        return page
    rows, count = accounts.list_officials(session, official, limit=500)
    codes = accounts.managed(session, official)
    units = (
        session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(codes)).order_by(OrgUnit.code)).all()
        if len(codes) <= UNIT_CHOICES
        else []
    )
    roles = [r for r in accounts.ROLES if accounts.RANK[r] <= accounts.RANK[official.role]]
    page = _page(
        request,
        "officials.html",
        official=official,
        forbidden=False,
        accounts=rows,
        count=count,
        units=units,
        roles=roles,
        role_names=ROLE_NAMES,
        banner=shown,
        temporary=temporary,
    )
    page.status_code = status
    return page


def _refused(exc: accounts.AccountError) -> Banner | None:
    return banner("official_refused", reason=exc.vi)


@router.get("", response_class=HTMLResponse)
def officials_page(request: Request, session: SessionDep, official: ConsoleOfficial) -> HTMLResponse:
    return _render(request, session, official)


@router.post("", response_class=HTMLResponse)
def create(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    username: Annotated[str, Form(max_length=64)],
    unit: Annotated[str, Form(max_length=16)],
    role: Annotated[str, Form(max_length=16)] = "officer",
    full_name: Text = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> HTMLResponse:
    _check_csrf(request, settings, csrf)
    try:
        done = accounts.create_official(
            session, official, username=username, unit_code=unit, role=role, full_name=full_name
        )
    except accounts.AccountError as exc:
        session.rollback()
        return _render(request, session, official, _refused(exc), status=exc.status)
    temporary = (done.official.username, done.temporary_password or "")
    return _render(request, session, official, banner("official_created", username=done.official.username), temporary)


@router.post("/{username}", response_class=HTMLResponse)
def update(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    official: ConsoleOfficial,
    username: str,
    action: Annotated[str, Form(max_length=16)] = "save",
    role: Annotated[str | None, Form(max_length=16)] = None,
    unit: Annotated[str | None, Form(max_length=16)] = None,
    active: Annotated[str | None, Form(max_length=8)] = None,
    full_name: Annotated[str | None, Form(max_length=200)] = None,
    csrf: Annotated[str, Form(max_length=256)] = "",
) -> HTMLResponse:
    _check_csrf(request, settings, csrf)
    if action == "reset":
        change = accounts.AccountChange(reset_password=True)
    else:
        change = accounts.AccountChange(
            full_name=full_name,
            role=role or None,
            unit_code=unit or None,
            active=None if active is None else active == "1",
        )
    try:
        done = accounts.update_official(session, official, username, change)
    except accounts.AccountError as exc:
        session.rollback()
        return _render(request, session, official, _refused(exc), status=exc.status)
    name = done.official.username
    if done.temporary_password:
        shown = banner("official_password_reset", username=name)
        return _render(request, session, official, shown, (name, done.temporary_password))
    return _render(request, session, official, banner("official_updated", username=name))
