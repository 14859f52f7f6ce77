"""Officials' ticket API: the console uses the same services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy.orm import Session

from backend.api.deps import ContainerDep, CurrentOfficial, SessionDep
from backend.api.schemas import (
    CategoryCorrection,
    NoteCreate,
    Reassign,
    ReplyCreate,
    StatusUpdate,
    TicketDetailPublic,
    TicketsPublic,
)
from backend.container import Container
from backend.db.models import Official, Ticket
from backend.domain.statuses import ALL_STATUSES, TransitionError
from backend.services.audit import audit
from backend.services.presenters import ticket_detail, ticket_public
from backend.services.tickets import TicketNotFound

router = APIRouter(prefix="/api/tickets", tags=["tickets"])
NOT_FOUND = "ticket not found / không tìm thấy phản ánh"


def _visible(container: Container, session: Session, official: Official, code: str) -> Ticket:
    """The ticket if this official may see it; 404 otherwise (never say whether it exists)."""
    try:
        return container.ops.visible(session, official, code)
    except TicketNotFound:
        raise HTTPException(404, NOT_FOUND) from None


@router.get("", response_model=TicketsPublic)
def list_tickets(
    session: SessionDep,
    container: ContainerDep,
    official: CurrentOfficial,
    status: Annotated[str | None, Query(description="Filter by status code")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketsPublic:
    """The tickets of the official's unit (supervisors: and the units below), newest first."""
    if status is not None and status not in ALL_STATUSES:
        raise HTTPException(422, f"unknown status '{status}'")
    rows, count = container.ops.list_for(session, official, status=status, offset=offset, limit=limit)
    audit(session, official, "list", "ticket", "*", status=status, offset=offset, count=len(rows))
    session.commit()
    return TicketsPublic(data=[ticket_public(session, t) for t in rows], count=count)


@router.get("/{code}", response_model=TicketDetailPublic)
def get_ticket(
    code: str, session: SessionDep, container: ContainerDep, official: CurrentOfficial
) -> TicketDetailPublic:
    ticket = _visible(container, session, official, code)
    audit(session, official, "view", "ticket", ticket.code)
    detail = ticket_detail(session, ticket, official)
    session.commit()
    return detail


@router.post("/{code}/replies", response_model=TicketDetailPublic, status_code=201)
def reply(
    code: str, body: ReplyCreate, session: SessionDep, container: ContainerDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """Answer the citizen; the reply is delivered into their chat."""
    ticket = _visible(container, session, official, code)
    for target in container.ops.reply_all(session, official, ticket, body.text, body.cluster):
        audit(session, official, "reply", "ticket", target.code, cluster=body.cluster)
    session.commit()
    return ticket_detail(session, ticket, official)


@router.post("/{code}/status", response_model=TicketDetailPublic)
def change_status(
    code: str, body: StatusUpdate, session: SessionDep, container: ContainerDep, official: CurrentOfficial
) -> TicketDetailPublic:
    ticket = _visible(container, session, official, code)
    try:
        container.ops.change_status(session, official, ticket, body.status, body.note)
    except TransitionError as exc:
        raise HTTPException(409 if body.status in ALL_STATUSES else 422, str(exc)) from None
    audit(session, official, "status", "ticket", ticket.code, new=body.status)
    session.commit()
    return ticket_detail(session, ticket, official)


@router.post("/{code}/reassign", response_model=TicketDetailPublic)
def reassign(
    code: str, body: Reassign, session: SessionDep, container: ContainerDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """Hand the ticket to another committee, with a reason; the citizen is told who handles it now."""
    ticket = _visible(container, session, official, code)
    try:
        container.ops.reassign(session, official, ticket, body.unit, body.reason)
    except TransitionError as exc:
        raise HTTPException(422, str(exc)) from None
    audit(session, official, "reassign", "ticket", ticket.code, unit=body.unit)
    session.commit()
    return ticket_detail(session, ticket, official)


@router.post("/{code}/notes", response_model=TicketDetailPublic, status_code=201)
def add_note(
    code: str, body: NoteCreate, session: SessionDep, container: ContainerDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """An internal note: officials see it, the citizen does not."""
    ticket = _visible(container, session, official, code)
    container.ops.add_note(session, official, ticket, body.text)
    audit(session, official, "note", "ticket", ticket.code)
    session.commit()
    return ticket_detail(session, ticket, official)


@router.post("/{code}/category", response_model=TicketDetailPublic)
def correct_category(
    code: str, body: CategoryCorrection, session: SessionDep, container: ContainerDep, official: CurrentOfficial
) -> TicketDetailPublic:
    """Correct the category the NLU chose; the correction is kept as a training example."""
    ticket = _visible(container, session, official, code)
    try:
        container.ops.correct_category(session, official, ticket, body.category)
    except TransitionError as exc:
        raise HTTPException(422, str(exc)) from None
    audit(session, official, "correct", "ticket", ticket.code, category=body.category)
    session.commit()
    return ticket_detail(session, ticket, official)
