"""The inbox's query: which tickets an official's list shows, filtered, searched and sorted (API and console alike).

:class:`TicketQuery` is the parsed, checked filter set (built from the query string by :meth:`TicketQuery.parse`,
which refuses bad values with a bilingual :class:`QueryError`); :func:`ticket_query` turns it into a SELECT
inside the official's scope (the one scope rule, :func:`~backend.services.tickets.visible_to`, looked up first by
:func:`~backend.services.tickets.resolve_scope`).

Text search matches every word of ``q`` against the ticket's folded search key (code, text, place: lower case, no
diacritics; see :mod:`backend.domain.search`), so "ngap sau le loi" finds "Ngập sâu … đường Lê Lợi". On PostgreSQL
a pg_trgm GIN index serves these ``LIKE '%word%'`` tests; on SQLite an FTS5 trigram index over the same key
(``tickets_search``, kept in step by triggers) finds the candidates, and the same ``LIKE`` tests confirm them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, column, func, literal_column, select, table
from sqlalchemy.orm import Session, lazyload, selectinload

from backend.db.models import Official, OrgUnit, Ticket
from backend.domain.codes import canonical_ticket_code
from backend.domain.deadlines import VN_TZ
from backend.domain.routing import CENTRAL
from backend.domain.search import SEARCH_INDEX, fts_query, search_terms
from backend.domain.statuses import ALL_STATUSES
from backend.domain.taxonomy import CATEGORIES
from backend.services.tickets import Scope, resolve_scope, scope_clause, unit_subtree

SORTS = ("default", "urgency", "deadline", "-deadline", "created_at", "-created_at")
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
CHANNEL = re.compile(r"^[a-z0-9_]{1,16}$")
UNIT = re.compile(r"^[A-Za-z0-9]{1,16}$")
MAX_Q = 200
COUNT_CAP = 10_000  # the inbox counts its matches up to here: "hơn 10.000" beyond (see :func:`count_matches`)
TICKET_SEARCH = table(SEARCH_INDEX, column("rowid"))  # SQLite's FTS5 index of Ticket.search_text (rowid: the id)


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


def _unit_filter(session: Session, scope: Scope, code: str) -> frozenset[str] | None:
    """The codes of the filtered unit and the units below it (None: the whole tree, no narrowing) if the official
    may see that unit; :class:`UnitOutOfScope` otherwise."""
    if scope.units is not None and code not in scope.units:
        raise UnitOutOfScope(code)
    subtree = frozenset(session.scalars(unit_subtree(code)))
    if code not in subtree:  # no such unit
        raise UnitOutOfScope(code)
    return None if code == CENTRAL else subtree


def _text_filter(session: Session, q: str) -> ColumnElement[bool] | None:
    code = canonical_ticket_code(q)
    if code is not None:
        return Ticket.code == code
    terms = search_terms(q)
    if not terms:
        return None
    like = [Ticket.search_text.contains(term, autoescape=True) for term in terms]
    if session.get_bind().dialect.name != "sqlite":
        return and_(*like)  # PostgreSQL: the pg_trgm GIN index serves LIKE '%word%'
    indexed = fts_query(terms)
    if indexed is None:  # only words shorter than a trigram: no index can narrow them down
        return and_(*like)
    # SQLite: the FTS5 trigram index finds the tickets holding the longer words; the LIKE tests then check every
    # word exactly as on PostgreSQL (the same results on both)
    found = select(TICKET_SEARCH.c.rowid).where(literal_column(TICKET_SEARCH.name).match(indexed))
    return and_(Ticket.id.in_(found), *like)


def ticket_query(session: Session, official: Official, query: TicketQuery) -> Select[Ticket]:
    """The SELECT of the tickets the official may see that match ``query``, in its order (no paging)."""
    return _matching(session, official, query).order_by(*_order(query.sort))


def inbox_page(
    session: Session, official: Official, query: TicketQuery, *, offset: int = 0, limit: int = 50
) -> tuple[list[Ticket], int]:
    """One page of the inbox list and how many tickets match (up to ``COUNT_CAP + 1``, see :func:`count_matches`).

    The count comes first and chooses how the page is read. Many matches: PostgreSQL walks the index of the sort
    order and stops at the page's last ticket. A few thousand at most: it reads just those (through the indexes of
    the filters) and sorts them; walking the order index for them could read most of a million tickets, the more so
    as the filters often go with the order (urgent tickets are mostly disasters, not roads).
    """
    stmt = _matching(session, official, query)
    count = count_matches(session, stmt, COUNT_CAP)
    if count == 0 or (count <= COUNT_CAP and offset >= count):
        return [], count
    stmt = stmt.order_by(*_order(query.sort, few=count <= COUNT_CAP))
    return list(session.scalars(stmt.offset(offset).limit(limit)).unique()), count


def _matching(session: Session, official: Official, query: TicketQuery) -> Select[Ticket]:
    """The tickets the official may see that match ``query``, unordered.

    The official's scope (their units and the tickets alerted to them) is looked up first and written into the
    query as literal lists (:func:`~backend.services.tickets.resolve_scope`): a condition such as
    ``unit_code IN (SELECT ...)`` would hide from the planner how many tickets it keeps, and it would walk the
    wrong index at a million tickets.
    """
    scope = resolve_scope(session, official)
    within = _unit_filter(session, scope, query.unit) if query.unit else None
    # no eager joins (they would keep PostgreSQL from walking the sort index): units in one query, no citizens
    stmt = (
        select(Ticket).options(selectinload(Ticket.unit), lazyload(Ticket.citizen)).where(scope_clause(scope, within))
    )
    if query.q:
        found = _text_filter(session, query.q)
        if found is not None:
            stmt = stmt.where(found)
    if query.statuses:
        stmt = stmt.where(Ticket.status.in_(query.statuses))
    if query.category:
        stmt = stmt.where(Ticket.category == query.category)
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
    return stmt


def count_matches(session: Session, stmt: Select[Ticket], cap: int = COUNT_CAP) -> int:
    """How many tickets ``stmt`` (a :func:`ticket_query`) finds, counted up to ``cap + 1``: a number above ``cap``
    means "more than ``cap``". Counting every match of a million tickets would read them all on each page view;
    nobody pages through ten thousand tickets, they narrow the filters."""
    found = stmt.order_by(None).with_only_columns(Ticket.id).limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(found)) or 0


def _order(sort: str, *, few: bool = False) -> list[Any]:
    """The ORDER BY of a sort. With ``few`` (a few thousand matches at most) the first key is written so that no
    index matches it (``coalesce(x, x)``: the same value): the database then sorts the matches it found through the
    filters' indexes instead of walking the order's index past every other ticket."""

    def first(column: Any) -> Any:
        return func.coalesce(column, column) if few else column

    if sort == "deadline":
        return [first(Ticket.deadline).asc().nulls_last(), Ticket.id.asc()]
    if sort == "-deadline":
        return [first(Ticket.deadline).desc().nulls_last(), Ticket.id.desc()]
    if sort == "created_at":
        return [first(Ticket.created_at).asc(), Ticket.id.asc()]
    if sort == "-created_at":
        return [first(Ticket.created_at).desc(), Ticket.id.desc()]
    # default and "urgency": urgent first, then overdue, then the nearest deadline
    return [first(Ticket.urgent).desc(), Ticket.overdue.desc(), Ticket.deadline.asc().nulls_last(), Ticket.id.asc()]


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
