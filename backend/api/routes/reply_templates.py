"""Reply templates per unit: the officials' canned answers, inherited by the units below."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Query, Response

from backend.api.deps import CurrentOfficial, RowId, SessionDep, TicketOpsDep
from backend.api.schemas import (
    ReplyTemplateCreate,
    ReplyTemplatePublic,
    ReplyTemplatesPublic,
    ReplyTemplateUpdate,
)
from backend.services.reply_templates import ReplyTemplates, TemplateForbidden, TemplateNotFound, TemplateRefused
from backend.services.tickets import TicketNotFound

router = APIRouter(prefix="/api/reply-templates", tags=["reply templates"])
templates = ReplyTemplates()


def _refuse(exc: Exception) -> NoReturn:
    if isinstance(exc, TemplateNotFound | TicketNotFound):
        raise HTTPException(404, "not found / không tìm thấy mẫu trả lời, đơn vị hoặc phản ánh") from None
    if isinstance(exc, TemplateForbidden):
        raise HTTPException(403, "only supervisors and admins / chỉ lãnh đạo và quản trị được sửa mẫu") from None
    if isinstance(exc, TemplateRefused):
        raise HTTPException(409 if exc.conflict else 422, exc.reason) from None
    raise exc


@router.get("", response_model=ReplyTemplatesPublic)
def list_templates(
    session: SessionDep,
    ops: TicketOpsDep,
    official: CurrentOfficial,
    ticket: Annotated[str | None, Query(max_length=32, description="Fill each template for this ticket")] = None,
) -> ReplyTemplatesPublic:
    """The templates of the official's unit and of the units above it; with ``ticket`` each one filled for it."""
    try:
        target = ops.visible(session, official, ticket) if ticket else None
    except TicketNotFound as exc:
        _refuse(exc)
    found = [ReplyTemplatePublic(**asdict(v)) for v in templates.usable(session, official, target)]
    return ReplyTemplatesPublic(data=found, count=len(found))


@router.post("", response_model=ReplyTemplatePublic, status_code=201)
def create_template(body: ReplyTemplateCreate, session: SessionDep, official: CurrentOfficial) -> ReplyTemplatePublic:
    """A new template for a unit in the official's subtree (supervisors and admins)."""
    try:
        new_id = templates.create(session, official, body.unit, body.name, body.text)
    except (TemplateNotFound, TemplateForbidden, TemplateRefused) as exc:
        _refuse(exc)
    return _one(session, official, new_id)


@router.patch("/{template_id}", response_model=ReplyTemplatePublic)
def update_template(
    template_id: RowId, body: ReplyTemplateUpdate, session: SessionDep, official: CurrentOfficial
) -> ReplyTemplatePublic:
    try:
        templates.update(session, official, template_id, body.name, body.text)
    except (TemplateNotFound, TemplateForbidden, TemplateRefused) as exc:
        _refuse(exc)
    return _one(session, official, template_id)


@router.delete("/{template_id}", status_code=204)
def delete_template(template_id: RowId, session: SessionDep, official: CurrentOfficial) -> Response:
    try:
        templates.delete(session, official, template_id)
    except (TemplateNotFound, TemplateForbidden) as exc:
        _refuse(exc)
    return Response(status_code=204)


def _one(session: SessionDep, official: CurrentOfficial, template_id: RowId) -> ReplyTemplatePublic:
    view = templates.one(session, official, template_id)
    return ReplyTemplatePublic(**asdict(view))
