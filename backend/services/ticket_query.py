"""The inbox's query: which tickets an official's list shows, filtered, searched and sorted (API and console alike).

:class:`TicketQuery` is the parsed, checked filter set (built from the query string by :meth:`TicketQuery.parse`,
which refuses bad values with a bilingual :class:`QueryError`); :func:`ticket_query` turns it into a SELECT
inside the official's scope (the one scope rule, :func:`~backend.services.tickets.visible_to`).

Text search matches every word of ``q`` against the ticket's folded search key (code, text, place: lower case, no
diacritics; see :mod:`backend.domain.search`), so "ngap sau le loi" finds "Ngập sâu … đường Lê Lợi". On PostgreSQL
a pg_trgm GIN index serves these ``LIKE '%word%'`` tests; on SQLite they scan the official's tickets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session, lazyload, selectinload

from backend.db.models import Official, OrgUnit, Ticket
from backend.domain.codes import canonical_ticket_code
from backend.domain.deadlines import VN_TZ
from backend.domain.search import search_terms
from backend.domain.statuses import ALL_STATUSES
from backend.domain.taxonomy import CATEGORIES
from backend.services.tickets import unit_scope, unit_subtree, visible_to

SORTS = ("default", "urgency", "deadline", "-deadline", "created_at", "-created_at")
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
CHANNEL = re.compile(r"^[a-z0-9_]{1,16}$")
UNIT = re.compile(r"^[A-Za-z0-9]{1,16}$")
MAX_Q = 200


class QueryError(ValueError):
    """A filter value that makes no sense; the message is English / Vietnamese (HTTP 422)."""

    def __init__(self, field: str, english: str, vietnamese: str) -> None:
        super().__init__(f"{english} / {vietnamese}")
        self.field = field
        self.vietnamese = vietnamese


class UnitOutOfScope(LookupError):
    """The ``unit`` filter names a unit the official may not see (or none at all): HTTP 404, never which."""


def _flag(field: str, value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    low = value.strip().lower()
    if low in ("1", "true", "yes", "co", "có"):
        return True
    if low in ("0", "false", "no", "khong", "không"):
        return False
    raise QueryError(field, f"'{field}' must be true or false", f"'{field}' phải là true hoặc false")


def _day(field: str, value: str | None) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(
            field, f"'{field}' must be a date YYYY-MM-DD", f"'{field}' phải là ngày dạng NĂM-THÁNG-NGÀY"
        ) from None


def _start_of(day: date) -> datetime:
    """Midnight of a Vietnam calendar day."""
    return datetime.combine(day, time(0), tzinfo=VN_TZ)


@dataclass(frozen=True, slots=True)
class TicketQuery:
    q: str | None = None
    statuses: tuple[str, ...] = ()
    category: str | None = None
    unit: str | None = None
    urgent: bool | None = None
    overdue: bool | None = None
    channel: str | None = None
    date_from: date | None = None  # Vietnam calendar days, both included
    date_to: date | None = None
    assignee: str | None = None  # "me", "none" or a username
    sort: str = "default"

    @classmethod
    def parse(
        cls,
        *,
        q: str | None = None,
        status: str | None = None,
        category: str | None = None,
        unit: str | None = None,
        urgent: str | None = None,
        overdue: str | None = None,
        channel: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        assignee: str | None = None,
        sort: str | None = None,
    ) -> TicketQuery:
        """The filters of a query string, checked; :class:`QueryError` for the first bad one (nothing is run)."""
        text = " ".join((q or "").split())
        if len(text) > MAX_Q:
            raise QueryError("q", f"'q' is longer than {MAX_Q} characters", f"từ khóa dài quá {MAX_Q} ký tự")
        statuses = tuple(dict.fromkeys(s.strip() for s in (status or "").split(",") if s.strip()))
        for s in statuses:
            if s not in ALL_STATUSES:
                raise QueryError("status", f"unknown status '{s}'", f"trạng thái không hợp lệ: '{s}'")
        category = (category or "").strip() or None
        if category is not None and category not in CATEGORIES:
            raise QueryError("category", f"unknown category '{category}'", f"lĩnh vực không hợp lệ: '{category}'")
        unit = (unit or "").strip() or None
        if unit is not None and not UNIT.match(unit):
            raise QueryError("unit", f"bad unit code '{unit}'", f"mã đơn vị không hợp lệ: '{unit}'")
        channel = (channel or "").strip() or None
        if channel is not None and channel not in _channel_names():
            raise QueryError("channel", f"unknown channel '{channel}'", f"kênh không hợp lệ: '{channel}'")
        start, end = _day("from", date_from), _day("to", date_to)
        if start and end and start > end:
            raise QueryError("from", "'from' is after 'to'", "ngày bắt đầu sau ngày kết thúc")
        assignee = (assignee or "").strip() or None
        if assignee is not None and not USERNAME.match(assignee):
            raise QueryError("assignee", f"bad assignee '{assignee}'", f"người được giao không hợp lệ: '{assignee}'")
        sort = (sort or "").strip() or "default"
        if sort not in SORTS:
            raise QueryError(
                "sort",
                f"unknown sort '{sort}'; expected one of {', '.join(SORTS)}",
                f"cách sắp xếp không hợp lệ: '{sort}'",
            )
        return cls(
            q=text or None,
            statuses=statuses,
            category=category,
            unit=unit,
            urgent=_flag("urgent", urgent),
            overdue=_flag("overdue", overdue),
            channel=channel,
            date_from=start,
            date_to=end,
            assignee=assignee,
            sort=sort,
        )

    def params(self) -> dict[str, str]:
        """The query string that gives this query back (for links: paging, tabs, saved views)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value: Any = getattr(self, f.name)
            if value in (None, (), "default"):
                continue
            key = {"statuses": "status", "date_from": "from", "date_to": "to"}.get(f.name, f.name)
            if isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            out[key] = str(value)
        return out


def _channel_names() -> frozenset[str]:
    from bot.registry import CHANNELS

    return frozenset(c.name for c in CHANNELS.classes())


def _scope_unit(session: Session, official: Official, code: str) -> str:
    """The unit filter's code if the official may see that unit; :class:`UnitOutOfScope` otherwise."""
    found = session.scalar(select(OrgUnit.code).where(OrgUnit.code == code, OrgUnit.code.in_(unit_scope(official))))
    if found is None:
        raise UnitOutOfScope(code)
    return str(found)


def _text_filter(q: str) -> ColumnElement[bool] | None:
    code = canonical_ticket_code(q)
    if code is not None:
        return Ticket.code == code
    terms = search_terms(q)
    if not terms:
        return None
    return and_(*(Ticket.search_text.contains(term, autoescape=True) for term in terms))


def ticket_query(session: Session, official: Official, query: TicketQuery) -> Select[Ticket]:
    """The SELECT of the tickets the official may see that match ``query``, in its order (no paging)."""
    # no eager joins (they would keep PostgreSQL from walking the sort index): units in one query, no citizens
    stmt = select(Ticket).options(selectinload(Ticket.unit), lazyload(Ticket.citizen)).where(visible_to(official))
    if query.q:
        found = _text_filter(query.q)
        if found is not None:
            stmt = stmt.where(found)
    if query.statuses:
        stmt = stmt.where(Ticket.status.in_(query.statuses))
    if query.category:
        stmt = stmt.where(Ticket.category == query.category)
    if query.unit:
        stmt = stmt.where(Ticket.unit_code.in_(unit_subtree(_scope_unit(session, official, query.unit))))
    if query.urgent is not None:
        stmt = stmt.where(Ticket.urgent.is_(query.urgent))
    if query.overdue is not None:
        stmt = stmt.where(Ticket.overdue.is_(query.overdue))
    if query.channel:
        stmt = stmt.where(Ticket.channel == query.channel)
    if query.date_from:
        stmt = stmt.where(Ticket.created_at >= _start_of(query.date_from))
    if query.date_to:
        stmt = stmt.where(Ticket.created_at < _start_of(query.date_to + timedelta(days=1)))
    if query.assignee == "none":
        stmt = stmt.where(Ticket.assignee.is_(None))
    elif query.assignee:
        stmt = stmt.where(Ticket.assignee == (official.username if query.assignee == "me" else query.assignee))
    return stmt.order_by(*_order(query.sort))


def _order(sort: str) -> list[Any]:
    if sort == "deadline":
        return [Ticket.deadline.asc().nulls_last(), Ticket.id.asc()]
    if sort == "-deadline":
        return [Ticket.deadline.desc().nulls_last(), Ticket.id.desc()]
    if sort == "created_at":
        return [Ticket.created_at.asc(), Ticket.id.asc()]
    if sort == "-created_at":
        return [Ticket.created_at.desc(), Ticket.id.desc()]
    # default and "urgency": urgent first, then overdue, then the nearest deadline
    return [Ticket.urgent.desc(), Ticket.overdue.desc(), Ticket.deadline.asc().nulls_last(), Ticket.id.asc()]


@dataclass(frozen=True, slots=True)
class UnitChoice:
    code: str
    name: str
    depth: int  # 0: the official's own unit, 1: a unit below it, 2: below that (indented in the picker)


def unit_choices(session: Session, official: Official, selected: str | None = None) -> list[UnitChoice]:
    """The units a supervisor may filter by: their own, the units right below it, and the units below the chosen one
    (a central official picks a province, then one of its communes). Officers see only their own unit: empty list."""
    if official.role == "officer":
        return []
    own = session.get(OrgUnit, official.unit_code)
    if own is None:
        return []
    active = OrgUnit.active.is_(True)
    expand = None  # the unit below the official's whose own units are listed too
    if selected is not None:
        chosen = session.get(OrgUnit, selected)
        if chosen is not None and chosen.parent_code == own.code:
            expand = chosen.code
        elif chosen is not None and chosen.parent_code is not None:
            parent = session.get(OrgUnit, chosen.parent_code)
            expand = parent.code if parent is not None and parent.parent_code == own.code else None
    out = [UnitChoice(own.code, own.name, 0)]
    for child in session.scalars(select(OrgUnit).where(OrgUnit.parent_code == own.code, active).order_by(OrgUnit.name)):
        out.append(UnitChoice(child.code, child.name, 1))
        if child.code == expand:
            below = select(OrgUnit).where(OrgUnit.parent_code == child.code, active).order_by(OrgUnit.name)
            out.extend(UnitChoice(g.code, g.name, 2) for g in session.scalars(below))
    return out
