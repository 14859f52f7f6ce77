"""Officials' ticket API: thin routes over the same use cases as the console (backend/services/usecases.py)."""

from __future__ import annotations

from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Query

from backend.api.deps import CurrentOfficial, SessionDep, TicketCasesDep
from backend.api.schemas import (
    CategoryCorrection,
    NoteCreate,
    Reassign,
    ReplyCreate,
    StatusUpdate,
    TicketDetailPublic,
    TicketsPublic,
)
from backend.services.usecases import Refused, TicketNotFound

router = APIRouter(prefix="/api/tickets", tags=["tickets"])
NOT_FOUND = "ticket not found / không tìm thấy phản ánh"


def _refuse(exc: Exception) -> NoReturn:
    """A use case's refusal as HTTP: 404 for a ticket the official may not see (never whether it exists), 409 for a
    change the ticket's state forbids, 422 for wrong input."""
    if isinstance(exc, TicketNotFound):
        raise HTTPException(404, NOT_FOUND) from None
    if isinstance(exc, Refused):
        raise HTTPException(409 if exc.conflict else 422, exc.reason) from None
    raise exc


@router.get("", response_model=TicketsPublic)
def list_tickets(
    session: SessionDep,
    cases: TicketCasesDep,
    official: CurrentOfficial,
    status: Annotated[str | None, Query(description="Filter by status code")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketsPublic:
    """The tickets of the official's unit (supervisors: and the units below), newest first."""
    try:
        found = cases.list(session, official, status=status, offset=offset, limit=limit)
    except Refused as exc:
        _refuse(exc)
    return TicketsPublic(data=found.tickets, count=found.count)


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
