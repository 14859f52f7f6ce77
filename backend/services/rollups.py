"""Daily roll-ups of the summary reports, kept up to date from the tickets' changes.

What the reports count of one ticket (its *facts*: the Vietnam calendar day it was filed, unit, field, channel,
status, urgency, overdue flag, rating, whether and when it was answered, its first response time) is read by one
query, :func:`fact_rows`, used both to fill the roll-up table ``report_daily`` and by the summaries for the days the
roll-ups do not cover (today, and days with changes the worker has not rolled up yet): both ways count alike.

The worker (``backend/workers/reports.py``) calls :func:`refresh`: it rolls up the whole days not covered yet, and
rolls up again every day with a ticket changed since the watermarks (``updated_at``, and the ids of new tickets and
events, so that bulk loads with past timestamps count too). ``gopy report rollup --rebuild`` starts over.

Each ticket's facts as rolled up are kept too (``report_ticket_facts``): between two passes a summary reads the
roll-ups of every whole past day, takes back the rolled-up facts of the tickets changed since the watermarks and adds
their current ones (:func:`replace_changed`) — work in proportion to the changes, not to the changed days' tickets.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, overload

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
    union,
)
from sqlalchemy.orm import Session

from backend.db.models import Ticket, TicketEvent, UTCDateTime, utcnow
from backend.db.rollup_models import ReportDaily, ReportTicketFact, RollupState
from backend.domain import statuses as st
from backend.domain.deadlines import VN_TZ

ROLLUP = "daily"
ANSWERED_KINDS = ("reply",)
UNCATEGORISED = "chua_phan_loai"
WATERMARK_MARGIN = timedelta(minutes=5)  # transactions still open when a pass starts are seen by the next one
CHUNK_DAYS = 10  # days rolled up per query when rebuilding
MAX_DIRTY_DAYS = 400
INSERT_BATCH = 5000
SECONDS_PER_CENTIHOUR = 36

log = logging.getLogger(__name__)


def today_vn(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(VN_TZ).date()


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, day after end 00:00) in Vietnam time, as UTC datetimes."""
    lo = datetime.combine(start, time(), VN_TZ).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(), VN_TZ).astimezone(UTC)
    return lo, hi


def runs(days: Iterable[date], longest: int | None = None) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs, each at most ``longest`` days."""
    out: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if out and out[-1][1] + timedelta(days=1) == day and (longest is None or (day - out[-1][0]).days < longest):
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def created_on(day_runs: Sequence[tuple[date, date]]) -> ColumnElement[bool]:
    """Tickets created on one of the days (Vietnam time)."""
    ranges = []
    for first, last in day_runs:
        lo, hi = utc_bounds(first, last)
        ranges.append(and_(Ticket.created_at >= lo, Ticket.created_at < hi))
    return or_(*ranges)


def local_day(session: Session) -> ColumnElement[Any]:
    """The Vietnam calendar day of a ticket's creation, in SQL (Vietnam has no daylight saving time: UTC+7)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("Asia/Ho_Chi_Minh", Ticket.created_at), Date)
    return func.date(Ticket.created_at, "+7 hours")


def as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# -- one ticket's facts -----------------------------------------------------------------------------------------


def first_times(filters: Sequence[ColumnElement[bool]]) -> Any:
    """Per ticket: when an official first acted on it (reply or status change) and when it was first answered."""
    answered = or_(
        and_(TicketEvent.kind.in_(ANSWERED_KINDS), TicketEvent.actor_type == "official"),
        and_(TicketEvent.kind == "status", TicketEvent.new_status == st.DA_TRA_LOI),
    )
    responded = and_(TicketEvent.actor_type == "official", TicketEvent.kind.in_(("reply", "status")))
    return (
        select(
            TicketEvent.ticket_id.label("ticket_id"),
            type_coerce(func.min(case((answered, TicketEvent.created_at))), UTCDateTime()).label("answered_at"),
            type_coerce(func.min(case((responded, TicketEvent.created_at))), UTCDateTime()).label("responded_at"),
        )
        .where(TicketEvent.ticket_id.in_(select(Ticket.id).where(*filters)))
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )


@dataclass(frozen=True)
class Fact:
    day: date
    unit_code: str
    child: str | None  # the unit one level below the summary's unit the ticket counts under (when asked)
    category: str
    channel: str
    status: str
    urgent: bool
    flagged: bool  # the overdue flag
    rating: int | None
    deadline: datetime | None
    answered: bool
    on_time: bool
    response: int | None  # centihours to the first response

    def overdue(self, now: datetime) -> bool:
        """Flagged overdue by the deadline worker, or still unanswered past the answer deadline."""
        return self.flagged or (self.status in st.OPEN_STATUSES and self.deadline is not None and self.deadline < now)


@overload
def fact_rows(
    session: Session,
    filters: Sequence[ColumnElement[bool]],
    child: ColumnElement[Any] | None = None,
    with_ids: Literal[False] = False,
) -> Iterator[Fact]: ...


@overload
def fact_rows(
    session: Session, filters: Sequence[ColumnElement[bool]], child: ColumnElement[Any] | None, with_ids: Literal[True]
) -> Iterator[tuple[int, Fact]]: ...


@overload
def fact_rows(
    session: Session, filters: Sequence[ColumnElement[bool]], *, with_ids: Literal[True]
) -> Iterator[tuple[int, Fact]]: ...


def fact_rows(
    session: Session,
    filters: Sequence[ColumnElement[bool]],
    child: ColumnElement[Any] | None = None,
    with_ids: bool = False,
) -> Iterator[Fact] | Iterator[tuple[int, Fact]]:
    """The facts of the tickets matching ``filters`` (``with_ids``: each with its ticket's id); ``child`` (an
    expression over ``OrgUnit`` joined on the ticket's unit) names the unit one level down each ticket counts
    under."""
    facts = _fact_rows(session, filters, child)
    return facts if with_ids else (fact for _, fact in facts)


def _fact_rows(
    session: Session, filters: Sequence[ColumnElement[bool]], child: ColumnElement[Any] | None
) -> Iterator[tuple[int, Fact]]:
    from backend.db.models import OrgUnit

    times = first_times(filters)
    columns: list[Any] = [
        Ticket.created_at,
        Ticket.unit_code,
        Ticket.category,
        Ticket.channel,
        Ticket.status,
        Ticket.urgent,
        Ticket.overdue,
        Ticket.rating,
        Ticket.deadline,
        times.c.answered_at,
        times.c.responded_at,
        Ticket.id,
    ]
    stmt = select(*columns, child) if child is not None else select(*columns)
    stmt = stmt.select_from(Ticket).outerjoin(times, times.c.ticket_id == Ticket.id).where(*filters)
    if child is not None:
        stmt = stmt.join(OrgUnit, OrgUnit.code == Ticket.unit_code)
    for row in session.execute(stmt.execution_options(yield_per=5000)):
        created, unit, cat, channel, status, urgent, flagged, rating, deadline, answered_at, responded_at = row[:11]
        response = None
        if responded_at is not None:
            response = math.floor((responded_at - created).total_seconds() / SECONDS_PER_CENTIHOUR + 0.5)
        yield (
            row[11],
            Fact(
                day=created.astimezone(VN_TZ).date(),
                unit_code=unit,
                child=row[12] if child is not None else None,
                category=cat or UNCATEGORISED,
                channel=channel,
                status=status,
                urgent=bool(urgent),
                flagged=bool(flagged),
                rating=int(rating) if rating is not None else None,
                deadline=deadline,
                answered=answered_at is not None,
                on_time=answered_at is not None and (deadline is None or answered_at <= deadline),
                response=response,
            ),
        )


# -- the tally the summaries are made of ------------------------------------------------------------------------


@dataclass
class Tally:
    """Counts of a set of tickets, from their facts or from roll-ups, that add up."""

    total: int = 0
    urgent: int = 0
    overdue: int = 0
    answered: int = 0
    on_time: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    ratings: Counter[int] = field(default_factory=Counter)
    responses: Counter[int] = field(default_factory=Counter)  # centihours → tickets
    by_child: dict[str, list[int]] = field(default_factory=dict)  # child → [total, overdue, answered, on_time]
    trend: Counter[tuple[date, str]] = field(default_factory=Counter)

    def child(self, code: str) -> list[int]:
        return self.by_child.setdefault(code, [0, 0, 0, 0])

    def add_facts(self, facts: Iterable[Fact], now: datetime, exclude_unit: str | None = None, sign: int = 1) -> None:
        """Count the facts (``sign=-1``: take them back, as counted before)."""
        for f in facts:
            overdue = sign * f.overdue(now)
            answered, on_time = sign * f.answered, sign * f.on_time
            self.total += sign
            self.urgent += sign * f.urgent
            self.overdue += overdue
            self.answered += answered
            self.on_time += on_time
            self.by_status[f.status] += sign
            self.by_category[f.category] += sign
            self.by_channel[f.channel] += sign
            if f.rating is not None:
                self.ratings[f.rating] += sign
            if f.response is not None:
                self.responses[f.response] += sign
            self.trend[(f.day, f.category)] += sign
            if f.child is not None and f.unit_code != exclude_unit:
                counts = self.child(f.child)
                counts[0] += sign
                counts[1] += overdue
                counts[2] += answered
                counts[3] += on_time

    def add(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        self.total += other.total
        self.urgent += other.urgent
        self.overdue += other.overdue
        self.answered += other.answered
        self.on_time += other.on_time
        for name in ("by_status", "by_category", "by_channel", "ratings", "responses", "trend"):
            getattr(self, name).update(getattr(other, name))
        for code, counts in other.by_child.items():
            mine = self.child(code)
            for i, n in enumerate(counts):
                mine[i] += n

    def prune(self) -> None:
        """Drop the values no ticket has any more (taken back to zero), as if they had never been counted."""
        for name in ("by_status", "by_category", "by_channel", "ratings", "responses", "trend"):
            counter: Counter[Any] = getattr(self, name)
            for key in [k for k, n in counter.items() if n <= 0]:
                del counter[key]

    def median_response_hours(self) -> float | None:
        n = sum(self.responses.values())
        if not n:
            return None
        wanted = (n - 1) // 2, n // 2  # the middle one, or the two middle ones
        found: list[int] = []
        seen = 0
        for value in sorted(self.responses):
            count = self.responses[value]
            found += [value for i in wanted if seen <= i < seen + count]
            seen += count
            if len(found) == 2:
                break
        return round(sum(found) / 2 / 100, 2)


def add_rollups(
    session: Session,
    tally: Tally,
    filters: Sequence[ColumnElement[bool]],
    child: ColumnElement[Any] | None = None,
    exclude_unit: str | None = None,
) -> None:
    """Add the roll-up rows matching ``filters`` (over ``ReportDaily``) to ``tally``."""
    from backend.db.models import OrgUnit

    if session.get_bind().dialect.name == "postgresql":
        _add_rollups_at_once(session, tally, filters, child, exclude_unit)
        return
    r = ReportDaily
    tickets = func.sum(r.tickets)
    flagged = func.sum(case((r.overdue.is_(True), r.tickets), else_=0))
    for status, cat, channel, urgent, n, late, answered, on_time in session.execute(
        select(r.status, r.category, r.channel, r.urgent, tickets, flagged, func.sum(r.answered), func.sum(r.on_time))
        .where(*filters)
        .group_by(r.status, r.category, r.channel, r.urgent)
    ):
        n = int(n)
        tally.total += n
        tally.urgent += n if urgent else 0
        tally.overdue += int(late)
        tally.answered += int(answered)
        tally.on_time += int(on_time)
        tally.by_status[status] += n
        tally.by_category[cat] += n
        tally.by_channel[channel] += n
    for rating, n in session.execute(
        select(r.rating, tickets).where(*filters, r.rating.is_not(None)).group_by(r.rating)
    ):
        tally.ratings[int(rating or 0)] += int(n)
    for value, n in session.execute(
        select(r.response_centihours, tickets)
        .where(*filters, r.response_centihours.is_not(None))
        .group_by(r.response_centihours)
    ):
        tally.responses[int(value or 0)] += int(n)
    for day, cat, n in session.execute(select(r.day, r.category, tickets).where(*filters).group_by(r.day, r.category)):
        tally.trend[(as_date(day), cat)] += int(n)
    if child is None:
        return
    unit_filters = [*filters] if exclude_unit is None else [*filters, r.unit_code != exclude_unit]
    label = child.label("child")
    for code, n, late, answered, on_time in session.execute(
        select(label, tickets, flagged, func.sum(r.answered), func.sum(r.on_time))
        .join(OrgUnit, OrgUnit.code == r.unit_code)
        .where(*unit_filters)
        .group_by(label)
    ):
        counts = tally.child(code)
        counts[0] += int(n)
        counts[1] += int(late)
        counts[2] += int(answered)
        counts[3] += int(on_time)


def _add_rollups_at_once(
    session: Session,
    tally: Tally,
    filters: Sequence[ColumnElement[bool]],
    child: ColumnElement[Any] | None,
    exclude_unit: str | None,
) -> None:
    """:func:`add_rollups` in one pass over the rows (PostgreSQL's ``GROUPING SETS``)."""
    from backend.db.models import OrgUnit

    r = ReportDaily
    columns: list[Any] = [r.status, r.category, r.channel, r.urgent, r.overdue, r.rating, r.response_centihours, r.day]
    columns += [r.tickets, r.answered, r.on_time]
    if child is None:
        rows = select(*columns, literal(None, String).label("child")).where(*filters).subquery()
    else:
        own = case((r.unit_code == exclude_unit, None), else_=child) if exclude_unit else child
        joined = select(*columns, own.label("child")).join(OrgUnit, OrgUnit.code == r.unit_code)
        rows = joined.where(*filters).subquery()
    c = rows.c
    sets = [
        tuple_(c.status, c.category, c.channel, c.urgent),
        tuple_(c.rating),
        tuple_(c.response_centihours),
        tuple_(c.day, c.category),
        tuple_(c.child),  # all NULL without children: one group, skipped
    ]
    tickets = func.sum(c.tickets)
    stmt = select(
        func.grouping(c.status),
        func.grouping(c.rating),
        func.grouping(c.response_centihours),
        func.grouping(c.day),
        c.status,
        c.category,
        c.channel,
        c.urgent,
        c.rating,
        c.response_centihours,
        c.day,
        c.child,
        tickets,
        func.sum(case((c.overdue.is_(True), c.tickets), else_=0)),
        func.sum(c.answered),
        func.sum(c.on_time),
    ).group_by(func.grouping_sets(*sets))
    for (
        g_status,
        g_rating,
        g_response,
        g_day,
        status,
        cat,
        channel,
        urgent,
        rating,
        response,
        day,
        code,
        *sums,
    ) in session.execute(stmt):
        n, late, answered, on_time = (int(v or 0) for v in sums)
        if not g_status:
            tally.total += n
            tally.urgent += n if urgent else 0
            tally.overdue += late
            tally.answered += answered
            tally.on_time += on_time
            tally.by_status[status] += n
            tally.by_category[cat] += n
            tally.by_channel[channel] += n
        elif not g_rating:
            if rating is not None:
                tally.ratings[int(rating)] += n
        elif not g_response:
            if response is not None:
                tally.responses[int(response)] += n
        elif not g_day:
            tally.trend[(as_date(day), cat)] += n
        elif code is not None:
            counts = tally.child(code)
            counts[0] += n
            counts[1] += late
            counts[2] += answered
            counts[3] += on_time


def add_unflagged_overdue(
    session: Session,
    tally: Tally,
    filters: Sequence[ColumnElement[bool]],
    now: datetime,
    child: ColumnElement[Any] | None = None,
    exclude_unit: str | None = None,
) -> None:
    """Roll-ups count the overdue flag; add the open tickets past their deadline the deadline worker has not flagged
    yet (few: an index finds them)."""
    from backend.db.models import OrgUnit

    late = [
        *filters,
        Ticket.overdue.is_(False),
        Ticket.status.in_(sorted(st.OPEN_STATUSES)),
        Ticket.deadline.is_not(None),
        Ticket.deadline < now,
    ]
    if child is None:
        tally.overdue += int(session.scalar(select(func.count()).select_from(Ticket).where(*late)) or 0)
        return
    label = child.label("child")
    for code, unit, n in session.execute(
        select(label, Ticket.unit_code, func.count())
        .select_from(Ticket)
        .join(OrgUnit, OrgUnit.code == Ticket.unit_code)
        .where(*late)
        .group_by(label, Ticket.unit_code)
    ):
        tally.overdue += int(n)
        if unit != exclude_unit:
            tally.child(code)[1] += int(n)


def replace_changed(
    session: Session,
    tally: Tally,
    rolled: Sequence[ColumnElement[bool]],
    current: Sequence[ColumnElement[bool]],
    changed: Any,
    now: datetime,
    child: ColumnElement[Any] | None = None,
    exclude_unit: str | None = None,
) -> None:
    """Correct roll-ups added to ``tally`` for the tickets changed since the watermarks (``changed``, from
    :func:`changed_list`): take back their facts as rolled up (``rolled``: the roll-ups' filters, over
    ``ReportTicketFact``) and count their current ones (``current``: the tickets' filters of the same days)."""
    from backend.db.models import OrgUnit

    f = ReportTicketFact
    ids = changed
    columns: list[Any] = [f.day, f.unit_code, f.category, f.channel, f.status, f.urgent, f.overdue, f.rating]
    columns += [f.response_centihours, f.answered, f.on_time]
    stmt = select(*columns, child) if child is not None else select(*columns)
    stmt = stmt.where(*rolled, f.ticket_id.in_(ids))
    if child is not None:
        stmt = stmt.join(OrgUnit, OrgUnit.code == f.unit_code)
    before = [
        Fact(
            day=as_date(row[0]),
            unit_code=row[1],
            child=row[11] if child is not None else None,
            category=row[2],
            channel=row[3],
            status=row[4],
            urgent=bool(row[5]),
            flagged=bool(row[6]),  # as the roll-ups count it: the flag only
            rating=row[7],
            deadline=None,
            answered=bool(row[9]),
            on_time=bool(row[10]),
            response=row[8],
        )
        for row in session.execute(stmt)
    ]
    tally.add_facts(before, now, exclude_unit, sign=-1)
    tally.add_facts(fact_rows(session, [*current, Ticket.id.in_(ids)], child), now, exclude_unit)


# -- keeping the roll-ups -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Which days of a period a summary reads from the roll-ups (corrected by the tickets changed since the
    watermarks of ``mark``), and which from the tickets."""

    rolled: list[tuple[date, date]]
    raw: list[tuple[date, date]]
    mark: RollupState | None = None


def state(session: Session) -> RollupState | None:
    return session.get(RollupState, ROLLUP)


def changed_ids(mark: RollupState) -> Any:
    """Ids of the tickets changed, filed or given an event after the watermarks (each found by an index: few, when
    the worker keeps up)."""
    return union(
        select(Ticket.id).where(Ticket.updated_at > mark.updated_until),
        select(Ticket.id).where(Ticket.id > mark.ticket_id),
        select(TicketEvent.ticket_id).where(TicketEvent.id > mark.event_id),
    )


CHANGED_LISTED = 5000  # changed tickets looked up by their ids (each by the primary key); more: by the subquery


def changed_list(session: Session, mark: RollupState) -> Any:
    """:func:`changed_ids`, read once when they are few (so that each is found by its key, which the planner does not
    foresee for the subquery), else the subquery itself."""
    ids = session.scalars(changed_ids(mark).limit(CHANGED_LISTED + 1)).all()
    return ids if len(ids) <= CHANGED_LISTED else changed_ids(mark)


def changed_since(mark: RollupState) -> ColumnElement[bool]:
    """Tickets changed, filed or given an event after the watermarks."""
    return Ticket.id.in_(changed_ids(mark))


def changed_days(session: Session, mark: RollupState, first: date, last: date) -> set[date] | None:
    """The days in first..last with a ticket changed since the watermarks; ``None`` when there are too many."""
    lo, hi = utc_bounds(first, last)
    day = local_day(session).label("day")
    rows = session.scalars(
        select(day)
        .where(Ticket.created_at >= lo, Ticket.created_at < hi, changed_since(mark))
        .group_by(day)
        .limit(MAX_DIRTY_DAYS + 1)
    ).all()
    if len(rows) > MAX_DIRTY_DAYS:
        return None
    return {as_date(d) for d in rows}


def coverage(session: Session, start: date, end: date, now: datetime | None = None) -> Coverage:
    """The whole past days of start..end that the roll-ups hold (to be corrected by the tickets changed since their
    watermarks: :func:`replace_changed`), and the rest."""
    mark = state(session)
    everything = [(start, end)]
    if mark is None or mark.covered_until is None or mark.updated_until is None:
        return Coverage([], everything)
    last = min(end, mark.covered_until, today_vn(now) - timedelta(days=1))
    if last < start:
        return Coverage([], everything)
    after = [(last + timedelta(days=1), end)] if last < end else []
    return Coverage([(start, last)], after, mark)


@dataclass
class RefreshResult:
    days: int = 0
    rows: int = 0
    rebuilt: bool = False


def refresh(session: Session, now: datetime | None = None, *, rebuild: bool = False) -> RefreshResult:
    """Roll up the whole days not covered yet and the days changed since the last pass (every day when
    ``rebuild``); commits."""
    now = now or utcnow()
    yesterday = today_vn(now) - timedelta(days=1)
    mark = state(session)
    result = RefreshResult(rebuilt=rebuild or mark is None or mark.covered_until is None)
    top_ticket = int(session.scalar(select(func.max(Ticket.id))) or 0)
    top_event = int(session.scalar(select(func.max(TicketEvent.id))) or 0)
    if result.rebuilt:
        if mark is not None:  # summaries read the tickets while the roll-ups are rebuilt
            session.delete(mark)
        session.execute(delete(ReportDaily))
        session.execute(delete(ReportTicketFact))
        session.commit()
        oldest = session.scalar(select(func.min(Ticket.created_at)))
        days: set[date] = set()
        if oldest is not None:
            first = oldest.astimezone(VN_TZ).date()
            days = {first + timedelta(days=i) for i in range((yesterday - first).days + 1)}
    else:
        assert mark is not None and mark.covered_until is not None and mark.updated_until is not None
        changed = changed_days(session, mark, date(2000, 1, 1), mark.covered_until)
        if changed is None:
            return refresh(session, now, rebuild=True)
        days = {d for d in changed if d <= yesterday}
        cursor = mark.covered_until + timedelta(days=1)
        while cursor <= yesterday:
            days.add(cursor)
            cursor += timedelta(days=1)
    for first, last in runs(days, CHUNK_DAYS):
        result.rows += _roll(session, first, last)
        result.days += (last - first).days + 1
        if result.rebuilt:
            session.commit()
    mark = state(session) or RollupState(name=ROLLUP)
    mark.covered_until = yesterday
    mark.updated_until = now - WATERMARK_MARGIN
    mark.ticket_id, mark.event_id, mark.refreshed_at = top_ticket, top_event, now
    session.add(mark)
    session.commit()
    if result.days:
        log.info(
            "report roll-ups: %d days, %d rows%s", result.days, result.rows, " (rebuilt)" if result.rebuilt else ""
        )
    return result


def _roll(session: Session, first: date, last: date) -> int:
    """Replace the roll-up rows of first..last, and the facts of their tickets, by those of the tickets created on
    those days."""
    session.execute(delete(ReportDaily).where(ReportDaily.day >= first, ReportDaily.day <= last))
    f = ReportTicketFact
    created = select(Ticket.id).where(created_on([(first, last)]))
    session.execute(delete(f).where(or_(and_(f.day >= first, f.day <= last), f.ticket_id.in_(created))))
    if session.get_bind().dialect.name == "postgresql":
        return _roll_in_sql(session, first, last)
    cells: dict[tuple[Any, ...], list[int]] = {}
    facts: list[dict[str, Any]] = []
    for ident, fact in fact_rows(session, [created_on([(first, last)])], with_ids=True):
        key: tuple[Any, ...] = (fact.day, fact.unit_code, fact.category, fact.channel, fact.status, fact.urgent)
        key += (fact.flagged, fact.rating, fact.response)
        counts = cells.setdefault(key, [0, 0, 0])
        counts[0] += 1
        counts[1] += fact.answered
        counts[2] += fact.on_time
        facts.append(dict(zip(FACT_COLUMNS, (ident, *key, fact.answered, fact.on_time), strict=True)))
    for i in range(0, len(facts), INSERT_BATCH):
        session.execute(insert(f), facts[i : i + INSERT_BATCH])
    names = ("day", "unit_code", "category", "channel", "status", "urgent", "overdue", "rating", "response_centihours")
    rows = [
        {**dict(zip(names, key, strict=True)), "tickets": n, "answered": a, "on_time": ok}
        for key, (n, a, ok) in cells.items()
    ]
    for i in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(ReportDaily), rows[i : i + INSERT_BATCH])
    return len(rows)


FACT_COLUMNS: tuple[str, ...] = ("ticket_id", "day", "unit_code", "category", "channel", "status", "urgent")
FACT_COLUMNS += ("overdue", "rating", "response_centihours", "answered", "on_time")


def _roll_in_sql(session: Session, first: date, last: date) -> int:
    """:func:`_roll` inside PostgreSQL (``INSERT ... SELECT``): the same facts as :func:`fact_rows` gives, without
    carrying every ticket through Python (the roll-up test compares both), then their counts."""
    filters = [created_on([(first, last)])]
    times = first_times(filters)
    seconds = func.extract("epoch", times.c.responded_at - Ticket.created_at)
    response = case(
        (times.c.responded_at.is_not(None), cast(func.floor(seconds / SECONDS_PER_CENTIHOUR + 0.5), Integer))
    )
    answered = times.c.answered_at.is_not(None)
    on_time = and_(answered, or_(Ticket.deadline.is_(None), times.c.answered_at <= Ticket.deadline))
    facts = (
        select(
            Ticket.id,
            local_day(session),
            Ticket.unit_code,
            func.coalesce(Ticket.category, UNCATEGORISED),
            Ticket.channel,
            Ticket.status,
            Ticket.urgent,
            Ticket.overdue,
            Ticket.rating,
            response,
            answered,
            on_time,
        )
        .select_from(Ticket)
        .outerjoin(times, times.c.ticket_id == Ticket.id)
        .where(*filters)
    )
    session.execute(insert(ReportTicketFact).from_select(list(FACT_COLUMNS), facts))
    f = ReportTicketFact
    keys = [f.day, f.unit_code, f.category, f.channel, f.status, f.urgent, f.overdue, f.rating, f.response_centihours]
    grouped = (
        select(
            *keys,
            func.count(),
            func.sum(case((f.answered.is_(True), 1), else_=0)),
            func.sum(case((f.on_time.is_(True), 1), else_=0)),
        )
        .where(f.day >= first, f.day <= last)
        .group_by(*keys)
    )
    names = [k.key for k in keys]
    session.execute(insert(ReportDaily).from_select([*names, "tickets", "answered", "on_time"], grouped))
    stored = select(func.count()).where(ReportDaily.day >= first, ReportDaily.day <= last)
    return int(session.scalar(stored) or 0)
