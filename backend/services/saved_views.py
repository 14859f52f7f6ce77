"""An official's saved views of the inbox: a name and the list's filters (a query string, checked again on use)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.inbox_models import SavedView
from backend.db.models import Official
from backend.services.audit import audit
from backend.services.ticket_query import QueryError, TicketQuery

MAX_VIEWS = 20
FILTER_KEYS = ("q", "status", "category", "unit", "urgent", "overdue", "channel", "from", "to", "assignee", "sort")


class ViewRefused(ValueError):
    pass


def views_of(session: Session, official: Official) -> list[SavedView]:
    return list(session.scalars(select(SavedView).where(SavedView.official_id == official.id).order_by(SavedView.id)))


def parse_filters(params: dict[str, str]) -> TicketQuery:
    """The :class:`TicketQuery` of a query string's filters (other keys are ignored)."""
    get = params.get
    return TicketQuery.parse(
        q=get("q"), status=get("status"), category=get("category"), unit=get("unit"), urgent=get("urgent"),
        overdue=get("overdue"), channel=get("channel"), date_from=get("from"), date_to=get("to"),
        assignee=get("assignee"), sort=get("sort"),
    )  # fmt: skip


def save_view(session: Session, official: Official, name: str, query_string: str) -> SavedView:
    """Keep the filters of ``query_string`` under ``name`` (1-60 characters, unique per official); committed."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 60 or len(views_of(session, official)) >= MAX_VIEWS:
        raise ViewRefused("name")
    params = {k: v for k, v in parse_qsl(query_string[:1000]) if k in FILTER_KEYS}
    try:
        query = parse_filters(params)
    except QueryError:
        raise ViewRefused("filters") from None
    view = SavedView(official_id=official.id, name=name, query=urlencode(query.params()))
    try:
        with session.begin_nested():
            session.add(view)
            session.flush()
    except IntegrityError:
        raise ViewRefused("name") from None
    audit(session, official, "save_view", "saved_view", str(view.id), name=name)
    session.commit()
    return view


def delete_view(session: Session, official: Official, view_id: int) -> bool:
    """Delete one of the official's own views; False when there is no such view of theirs."""
    view = session.scalars(
        select(SavedView).where(SavedView.id == view_id, SavedView.official_id == official.id)
    ).first()
    if view is None:
        return False
    session.delete(view)
    audit(session, official, "delete_view", "saved_view", str(view_id))
    session.commit()
    return True
