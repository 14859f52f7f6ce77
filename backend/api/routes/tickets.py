"""Officials' ticket API: thin routes over the same use cases as the console (backend/services/usecases.py)."""

from __future__ import annotations

from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Query

from backend.api.deps import CurrentOfficial, SessionDep, TicketCasesDep
from backend.api.schemas import (
    Assign,
    CategoryCorrection,
    NoteCreate,
    PlaceCorrection,
    Reassign,
    ReplyCreate,
    StatusUpdate,
    TicketDetailPublic,
    TicketsPublic,
)
from backend.services.ticket_query import COUNT_CAP, QueryError, TicketQuery, UnitOutOfScope
from backend.services.usecases import Refused, TicketNotFound

router = APIRouter(prefix="/api/tickets", tags=["tickets"])
NOT_FOUND = "ticket not found / không tìm thấy phản ánh"
UNIT_NOT_FOUND = "unit not found / không tìm thấy đơn vị"


def _refuse(exc: Exception) -> NoReturn:
    """A use case's refusal as HTTP: 404 for a ticket the official may not see (never whether it exists), 409 for a
    change the ticket's state forbids, 422 for wrong input."""
    if isinstance(exc, TicketNotFound):
        raise HTTPException(404, NOT_FOUND) from None
    if isinstance(exc, Refused):
        raise HTTPException(409 if exc.conflict else 422, exc.reason) from None
    raise exc


Filter = Annotated[str | None, Query(max_length=200)]


@router.get("", response_model=TicketsPublic)
def list_tickets(
    session: SessionDep,
    cases: TicketCasesDep,
    official: CurrentOfficial,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Ticket code, or words of the text and place (any case, with or without diacritics)",
        ),
    ] = None,
    status: Annotated[str | None, Query(max_length=200, description="Status codes, comma-separated")] = None,
    category: Annotated[str | None, Query(max_length=64, description="Category code")] = None,
    unit: Annotated[str | None, Query(max_length=16, description="A unit in scope: it and the units below")] = None,
    urgent: Annotated[str | None, Query(max_length=8, description="true / false")] = None,
    overdue: Annotated[str | None, Query(max_length=8, description="true / false")] = None,
    channel: Annotated[str | None, Query(max_length=16, description="zalo, telegram, webchat, ...")] = None,
    date_from: Annotated[
        str | None,
        Query(alias="from", max_length=10, description="Filed on or after this day (YYYY-MM-DD, Vietnam time)"),
    ] = None,
    date_to: Annotated[
        str | None,
        Query(alias="to", max_length=10, description="Filed on or before this day (YYYY-MM-DD, Vietnam time)"),
    ] = None,
    assignee: Annotated[str | None, Query(max_length=64, description="'me', 'none' or a username")] = None,
    sort: Annotated[
        str | None,
        Query(
            max_length=16,
            description="deadline, -deadline, created_at, -created_at, "
            "urgency; default: urgent, then overdue, then nearest deadline",
        ),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketsPublic:
    """The tickets the official may see (their unit; supervisors: and the units below) that match the filters;
    ``count`` is every match, not only this page, up to 10,000 (``count_capped``: more than that)."""
    try:
        query = TicketQuery.parse(
            q=q, status=status, category=category, unit=unit, urgent=urgent, overdue=overdue, channel=channel,
            date_from=date_from, date_to=date_to, assignee=assignee, sort=sort,
        )  # fmt: skip
        found = cases.list(session, official, query, offset=offset, limit=limit)
    except QueryError as exc:
        raise HTTPException(422, str(exc)) from None
    except UnitOutOfScope:
        raise HTTPException(404, UNIT_NOT_FOUND) from None
    return TicketsPublic(data=found.tickets, count=min(found.count, COUNT_CAP), count_capped=found.count > COUNT_CAP)


@router.get("/{code}", response_model=TicketDetailPublic)
def get_ticket(code: str, session: SessionDep, cases: TicketCasesDep, official: CurrentOfficial) -> TicketDetailPublic:
    try:
        return cases.view(session, official, code).detail
    except TicketNotFound as exc:
        _refuse(exc)


@router.post("/{code}/replies", response_model=TicketDetailPublic, status_code=201)
def reply(
    code: str, body: ReplyCreate, session: SessionDep, cases: TicketCasesDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """Answer the citizen; the reply is delivered into their chat."""
    try:
        return cases.reply(session, official, code, body.text, cluster=body.cluster).view.detail
    except (TicketNotFound, Refused) as exc:
        _refuse(exc)


@router.post("/{code}/status", response_model=TicketDetailPublic)
def change_status(
    code: str, body: StatusUpdate, session: SessionDep, cases: TicketCasesDep, official: CurrentOfficial
) -> TicketDetailPublic:
    try:
        return cases.change_status(session, official, code, body.status, body.note).detail
    except (TicketNotFound, Refused) as exc:
        _refuse(exc)


@router.post("/{code}/reassign", response_model=TicketDetailPublic)
def reassign(
    code: str, body: Reassign, session: SessionDep, cases: TicketCasesDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """Hand the ticket to another committee, with a reason; the citizen is told who handles it now."""
    try:
        return cases.reassign(session, official, code, body.unit, body.reason).detail
    except (TicketNotFound, Refused) as exc:
        _refuse(exc)


@router.post("/{code}/assign", response_model=TicketDetailPublic)
def assign(
    code: str, body: Assign, session: SessionDep, cases: TicketCasesDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """Give the ticket to one official of its unit or above (``null``: to nobody). Officers may take a ticket
    themselves; supervisors and admins assign anyone eligible."""
    try:
        return cases.assign(session, official, code, body.username).detail
    except (TicketNotFound, Refused) as exc:
        _refuse(exc)


@router.post("/{code}/notes", response_model=TicketDetailPublic, status_code=201)
def add_note(
    code: str, body: NoteCreate, session: SessionDep, cases: TicketCasesDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """An internal note: officials see it, the citizen does not."""
    try:
        return cases.add_note(session, official, code, body.text).detail
    except (TicketNotFound, Refused) as exc:
        _refuse(exc)


@router.post("/{code}/category", response_model=TicketDetailPublic)
def correct_category(
    code: str, body: CategoryCorrection, session: SessionDep, cases: TicketCasesDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """Correct the category the NLU chose; the correction is kept as a training example."""
    try:
        return cases.correct_category(session, official, code, body.category).detail
    except (TicketNotFound, Refused) as exc:
        _refuse(exc)


@router.post("/{code}/place", response_model=TicketDetailPublic)
def correct_place(
    code: str, body: PlaceCorrection, session: SessionDep, cases: TicketCasesDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """Fix the commune the NLU found; the correction waits for the admins' review in the NLU workbench."""
    try:
        return cases.correct_place(session, official, code, body.commune_code, body.place_name).detail
    except (TicketNotFound, Refused) as exc:
        _refuse(exc)


@router.post("/{code}/not-petition", response_model=TicketDetailPublic)
def mark_not_petition(
    code: str, session: SessionDep, cases: TicketCasesDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """Say the message is not a petition; the correction waits for the admins' review in the NLU workbench."""
    try:
        return cases.mark_not_petition(session, official, code).detail
    except TicketNotFound as exc:
        _refuse(exc)


@router.delete("/{code}/duplicates/{member}", response_model=TicketDetailPublic)
def unlink_duplicate(
    code: str, member: str, session: SessionDep, cases: TicketCasesDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """Take a wrongly linked ticket out of this ticket's duplicate cluster; both histories record it."""
    try:
        return cases.unlink_duplicate(session, official, code, member).detail
    except (TicketNotFound, Refused) as exc:
        _refuse(exc)
