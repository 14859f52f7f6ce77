"""Summary reports of what the people say: counts by status, field, channel, place and time, handling results,
satisfaction and emerging topics, for a unit's subtree over a period of Vietnamese calendar days.

Counts are aggregated in SQL (``GROUP BY``) so they scale; topics come from a bounded sample of the period's texts
(TF-IDF and average-linkage clustering within each field, scikit-learn).

``summarize`` is the one entry point (API, console, periodic DOCX/XLSX reports); its signature is kept stable.
"""

from __future__ import annotations

import math
import statistics
import threading
import time as clock
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, case, cast, func, literal, or_, select, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Official, OrgUnit, Ticket, TicketEvent, UTCDateTime, utcnow
from backend.db.report_models import TopicAlert
from backend.db.report_store_models import ConsoleNotice
from backend.domain import statuses as st
from backend.domain.deadlines import VN_TZ
from backend.domain.routing import CENTRAL
from backend.domain.taxonomy import CATEGORIES
from backend.services.tickets import unit_scope, unit_subtree

MAX_SPAN_DAYS = 366
DEFAULT_DAYS = 30
DAILY_TREND_MAX_DAYS = 62  # longer periods are shown per week (weeks start on Monday)
TOPIC_SAMPLE = 2000  # texts sampled at most per period (both periods are clustered together)
TOPIC_SAMPLE_PER_CATEGORY = 500
TOPIC_MIN_SHARE = 40  # texts sampled at least per field (when it has them)
TOPIC_DISTANCE = 0.88  # average cosine distance under which petitions form one topic
TOPIC_MIN_COUNT = 2
TOPICS_SHOWN = 12
JUMP_FACTOR = 3.0
JUMP_MIN_COUNT = 10
ANSWERED_KINDS = ("reply",)
UNCATEGORISED = "chua_phan_loai"

# Vietnamese function words and petition boilerplate (with and without diacritics) that say nothing of the subject.
_STOPWORDS = """
    và va của cua là la có co không khong được duoc cho các cac những nhung một mot này nay đã da đang dang sẽ se
    thì thi mà ma với voi ở o tại tai trong từ tu đến den lên len xuống xuong ra vào vao rồi roi nên nen vì vi
    do bị bi rất rat quá qua lắm lam cũng cung còn con chưa chua hay hoặc hoac nhưng để de như nhu khi lúc luc
    nào nao gì gi ai đâu dau sao thế the vậy vay ạ a ơi oi nhé nhe nha ko k dc đc thôi thoi mình minh tôi toi
    chúng chung ta họ ho em anh chị chi ông ong bà ba cháu chau nhà dân dan người nguoi bác bac cô co chú chu
    xin nhờ nho giúp giup đề nghị de nghi kiến kien phản ánh phan anh mong muốn muon yêu cầu yeu cau cơ quan
    quan chức năng chuc nang xem xét xet giải quyết giai quyet sớm som ngày ngay hôm hom nay tháng thang năm nam
    mấy may nhiều nhieu lại lai đi di luôn luon hết het vẫn van đều deu cả ca bao giờ gio ấy ay đó kia này
    mới moi sau trước truoc
    xã xa phường phuong thị trấn tran tỉnh tinh thành phố pho huyện huyen quận quan thôn thon ấp ap tổ to khu
"""
STOPWORDS = frozenset(_STOPWORDS.split())


class PeriodError(ValueError):
    """A period that cannot be reported on (end before start, too long, unreadable dates)."""


class UnitNotFound(LookupError):
    """The unit does not exist, or lies outside the official's subtree (never say which)."""


@dataclass(frozen=True)
class ChildUnitStats:
    code: str
    name: str
    total: int
    overdue: int
    answered: int
    on_time: int
    on_time_rate: float | None


@dataclass(frozen=True)
class Satisfaction:
    count: int
    mean: float | None
    distribution: dict[str, int]  # "1".."5" stars → tickets


@dataclass(frozen=True)
class TrendPoint:
    start: date  # the day, or the Monday of the week
    total: int
    by_category: dict[str, int]


@dataclass(frozen=True)
class Topic:
    key: str  # stable: category and top keywords
    label: str  # readable, Vietnamese
    category: str
    keywords: list[str]
    count: int
    previous: int
    growth: float | None  # count / previous (None when there was none before)
    jump: bool
    examples: list[str]  # ticket codes
    estimated: bool = False  # counts scaled from a sample


@dataclass(frozen=True)
class Summary:
    unit_code: str
    unit_name: str
    unit_level: str
    start: date  # first day, Vietnam calendar
    end: date  # last day, inclusive
    category: str | None
    channel: str | None
    total: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_channel: dict[str, int]
    urgent: int
    overdue: int
    answered: int
    answered_on_time: int
    on_time_rate: float | None
    median_first_response_hours: float | None
    satisfaction: Satisfaction
    by_child_unit: list[ChildUnitStats]
    trend_granularity: str  # day | week
    trend: list[TrendPoint]
    topics: list[Topic] = field(default_factory=list)
    generated_at: datetime = field(default_factory=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- periods ----------------------------------------------------------------------------------------------------


def today_vn(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(VN_TZ).date()


def default_period(now: datetime | None = None) -> tuple[date, date]:
    """The last 30 days in Vietnam time, today included."""
    end = today_vn(now)
    return end - timedelta(days=DEFAULT_DAYS - 1), end


EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def resolve_period(start: date | None, end: date | None, now: datetime | None = None) -> tuple[date, date]:
    """The period asked for, the missing ends filled in (default: the 30 days up to today, or up to ``end``);
    :class:`PeriodError` if it is not one that can be reported on."""
    for day in (start, end):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise PeriodError(f"dates must lie between {EARLIEST} and {LATEST} / ngày nằm ngoài khoảng cho phép")
    first, last = default_period(now)
    last = end or last
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    check_period(first, last)
    return first, last


def check_period(start: date, end: date) -> None:
    if end < start:
        raise PeriodError("the period ends before it starts / ngày kết thúc trước ngày bắt đầu")
    if (end - start).days + 1 > MAX_SPAN_DAYS:
        raise PeriodError(f"the period is longer than {MAX_SPAN_DAYS} days / khoảng thời gian quá dài")


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, day after end 00:00) in Vietnam time, as UTC datetimes."""
    lo = datetime.combine(start, time(), VN_TZ).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(), VN_TZ).astimezone(UTC)
    return lo, hi


def previous_period(start: date, end: date) -> tuple[date, date]:
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


# -- scope ------------------------------------------------------------------------------------------------------


def unit_in_scope(session: Session, official: Official, unit_code: str) -> OrgUnit:
    """The unit if it lies in the official's subtree (their unit or a unit below it); :class:`UnitNotFound` else."""
    unit = session.get(OrgUnit, unit_code)
    if unit is None:
        raise UnitNotFound(unit_code)
    subtree = session.scalars(unit_subtree(official.unit_code).where(OrgUnit.code == unit_code)).first()
    if subtree is None:
        raise UnitNotFound(unit_code)
    return unit


def child_units(session: Session, unit_code: str) -> list[OrgUnit]:
    return list(session.scalars(select(OrgUnit).where(OrgUnit.parent_code == unit_code).order_by(OrgUnit.code)))


def _ticket_filters(
    unit_code: str,
    lo: datetime,
    hi: datetime,
    *,
    category: str | None,
    channel: str | None,
    official: Official | None,
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = [
        Ticket.created_at >= lo,
        Ticket.created_at < hi,
    ]
    if unit_code != CENTRAL:
        filters.append(Ticket.unit_code.in_(unit_subtree(unit_code)))
    if official is not None and not (official.unit_code == CENTRAL and official.role != "officer"):
        filters.append(Ticket.unit_code.in_(unit_scope(official)))  # an officer: only their own unit's tickets
    if category == UNCATEGORISED:
        filters.append(Ticket.category.is_(None))
    elif category:
        filters.append(Ticket.category == category)
    if channel:
        filters.append(Ticket.channel == channel)
    return filters


def overdue_expr(now: datetime) -> ColumnElement[bool]:
    """Flagged overdue by the deadline worker, or still unanswered past the answer deadline."""
    unanswered = Ticket.status.in_(sorted(st.OPEN_STATUSES))
    return or_(Ticket.overdue.is_(True), and_(unanswered, Ticket.deadline.is_not(None), Ticket.deadline < now))


def _first_times(filters: Sequence[ColumnElement[bool]]) -> Any:
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


def _local_day(session: Session) -> ColumnElement[Any]:
    """The Vietnam calendar day of a ticket's creation, in SQL (Vietnam has no daylight saving time: UTC+7)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("Asia/Ho_Chi_Minh", Ticket.created_at), Date)
    return func.date(Ticket.created_at, "+7 hours")


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# -- the summary -------------------------------------------------------------------------------------------------


def summarize(
    session: Session,
    unit_code: str,
    start: date,
    end: date,
    *,
    category: str | None = None,
    channel: str | None = None,
    official: Official | None = None,
    topics: bool = True,
    now: datetime | None = None,
) -> Summary:
    """Everything the reports show for ``unit_code``'s subtree over the Vietnam calendar days ``start``..``end``.

    ``official``, when given, narrows the tickets to those the official may see (an officer: their own unit's);
    callers check first that the unit is in the official's subtree (:func:`unit_in_scope`).
    Raises :class:`UnitNotFound` for an unknown unit and :class:`PeriodError` for a bad period.
    """
    check_period(start, end)
    unit = session.get(OrgUnit, unit_code)
    if unit is None:
        raise UnitNotFound(unit_code)
    now = now or utcnow()
    lo, hi = utc_bounds(start, end)
    filters = _ticket_filters(unit_code, lo, hi, category=category, channel=channel, official=official)
    overdue = overdue_expr(now)

    def grouped(column: Any) -> dict[str, int]:
        rows = session.execute(select(column, func.count()).where(*filters).group_by(column)).all()
        return {(key if key is not None else UNCATEGORISED): int(n) for key, n in rows}

    by_status = grouped(Ticket.status)
    by_category = dict(sorted(grouped(Ticket.category).items(), key=lambda kv: (-kv[1], kv[0])))
    by_channel = grouped(Ticket.channel)
    totals = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Ticket.urgent.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        ).where(*filters)
    ).one()
    total, urgent, overdue_n = int(totals[0]), int(totals[1]), int(totals[2])

    # handling: answered, on time, first response
    times = _first_times(filters)
    on_time = and_(
        times.c.answered_at.is_not(None), or_(Ticket.deadline.is_(None), times.c.answered_at <= Ticket.deadline)
    )
    handled = session.execute(
        select(
            func.count(times.c.answered_at),
            func.coalesce(func.sum(case((on_time, 1), else_=0)), 0),
        )
        .select_from(Ticket)
        .join(times, times.c.ticket_id == Ticket.id)
    ).one()
    answered, answered_on_time = int(handled[0]), int(handled[1])
    median_hours = _median_first_response(session, times)

    # satisfaction
    ratings = session.execute(
        select(Ticket.rating, func.count()).where(*filters, Ticket.rating.is_not(None)).group_by(Ticket.rating)
    ).all()
    distribution = {str(s): 0 for s in range(1, 6)}
    for stars, n in ratings:
        if stars is None:
            continue
        distribution[str(int(stars))] = distribution.get(str(int(stars)), 0) + int(n)
    rated = sum(distribution.values())
    mean = round(sum(int(k) * v for k, v in distribution.items()) / rated, 2) if rated else None

    # next level down
    officer = official is not None and official.role == "officer"  # sees their own unit only: nothing below
    by_child = [] if officer else _by_child_unit(session, unit, filters, times, overdue)

    # trend
    granularity = "day" if (end - start).days + 1 <= DAILY_TREND_MAX_DAYS else "week"
    trend = _trend(session, filters, start, end, granularity)

    found = _cached_topics(session, unit_code, start, end, category, channel, official, by_category) if topics else []
    return Summary(
        unit_code=unit.code,
        unit_name=unit.name,
        unit_level=unit.level,
        start=start,
        end=end,
        category=category,
        channel=channel,
        total=total,
        by_status=by_status,
        by_category=by_category,
        by_channel=by_channel,
        urgent=urgent,
        overdue=overdue_n,
        answered=answered,
        answered_on_time=answered_on_time,
        on_time_rate=_rate(answered_on_time, answered),
        median_first_response_hours=median_hours,
        satisfaction=Satisfaction(count=rated, mean=mean, distribution=distribution),
        by_child_unit=by_child,
        trend_granularity=granularity,
        trend=trend,
        topics=found,
        generated_at=now,
    )


def _median_first_response(session: Session, times: Any) -> float | None:
    if session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", times.c.responded_at - Ticket.created_at)
        value = session.scalar(
            select(func.percentile_cont(0.5).within_group(seconds))
            .select_from(Ticket)
            .join(times, times.c.ticket_id == Ticket.id)
            .where(times.c.responded_at.is_not(None))
        )
        return round(float(value) / 3600, 2) if value is not None else None
    rows = session.execute(
        select(Ticket.created_at, times.c.responded_at)
        .select_from(Ticket)
        .join(times, times.c.ticket_id == Ticket.id)
        .where(times.c.responded_at.is_not(None))
    ).all()
    hours = [(responded - created).total_seconds() / 3600 for created, responded in rows]
    return round(statistics.median(hours), 2) if hours else None


def _by_child_unit(
    session: Session, unit: OrgUnit, filters: Sequence[ColumnElement[bool]], times: Any, overdue: ColumnElement[bool]
) -> list[ChildUnitStats]:
    children = child_units(session, unit.code)
    if not children:
        return []
    # a ticket belongs to the child that is its unit, or its unit's parent (TW → province ← commune)
    child = case((OrgUnit.parent_code == unit.code, OrgUnit.code), else_=OrgUnit.parent_code).label("child")
    on_time = and_(
        times.c.answered_at.is_not(None), or_(Ticket.deadline.is_(None), times.c.answered_at <= Ticket.deadline)
    )
    rows = session.execute(
        select(
            child,
            func.count(),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
            func.count(times.c.answered_at),
            func.coalesce(func.sum(case((on_time, 1), else_=0)), 0),
        )
        .select_from(Ticket)
        .join(OrgUnit, OrgUnit.code == Ticket.unit_code)
        .outerjoin(times, times.c.ticket_id == Ticket.id)
        .where(*filters, Ticket.unit_code != unit.code)
        .group_by(child)
    ).all()
    counts = {code: (int(t), int(o), int(a), int(ok)) for code, t, o, a, ok in rows}
    stats = []
    for c in children:
        t, o, a, ok = counts.get(c.code, (0, 0, 0, 0))
        stats.append(ChildUnitStats(c.code, c.name, t, o, a, ok, _rate(ok, a)))
    return sorted(stats, key=lambda s: (-s.total, -s.overdue, s.code))


def _trend(
    session: Session, filters: Sequence[ColumnElement[bool]], start: date, end: date, granularity: str
) -> list[TrendPoint]:
    day = _local_day(session).label("day")
    rows = session.execute(
        select(day, Ticket.category, func.count()).where(*filters).group_by(day, Ticket.category)
    ).all()
    buckets: dict[date, Counter[str]] = {}
    cursor = start if granularity == "day" else start - timedelta(days=start.weekday())
    step = timedelta(days=1 if granularity == "day" else 7)
    while cursor <= end:
        buckets[cursor] = Counter()
        cursor += step
    for raw, cat, n in rows:
        d = _as_date(raw)
        key = d if granularity == "day" else d - timedelta(days=d.weekday())
        buckets.setdefault(key, Counter())[cat or UNCATEGORISED] += int(n)
    return [TrendPoint(k, sum(v.values()), dict(v.most_common())) for k, v in sorted(buckets.items())]


# -- topics -----------------------------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower()


def _sample(
    session: Session, filters: Sequence[ColumnElement[bool]], by_category: dict[str, int]
) -> list[tuple[str, str, str]]:
    """(code, category, text) of at most about TOPIC_SAMPLE tickets: every field gets its share of the sample (at
    least a few texts, at most TOPIC_SAMPLE_PER_CATEGORY), spread over the field (a fixed pseudo-random order) when
    it has more."""
    out: list[tuple[str, str, str]] = []
    texts = [*filters, Ticket.personal_data_erased_at.is_(None), Ticket.text != ""]
    total = sum(by_category.values()) or 1
    for cat, n in sorted(by_category.items(), key=lambda kv: -kv[1]):
        share = max(TOPIC_MIN_SHARE, math.ceil(TOPIC_SAMPLE * n / total))
        limit = min(n, share, TOPIC_SAMPLE_PER_CATEGORY)
        where = Ticket.category.is_(None) if cat == UNCATEGORISED else Ticket.category == cat
        # a fixed pseudo-random order: the same figures on every reload, and no sort by random() of every row
        order = (Ticket.id * 2654435761) % 4294967291 if n > limit else Ticket.id
        rows = session.execute(select(Ticket.code, Ticket.text).where(*texts, where).order_by(order).limit(limit)).all()
        out.extend((code, cat, text) for code, text in rows)
    return out


TOPIC_CACHE_SECONDS = 600
_topic_cache: dict[tuple[Any, ...], tuple[float, list[Topic]]] = {}
_topic_lock = threading.Lock()


def _cached_topics(
    session: Session,
    unit_code: str,
    start: date,
    end: date,
    category: str | None,
    channel: str | None,
    official: Official | None,
    by_category: dict[str, int],
) -> list[Topic]:
    """Topics are the slow part (reading and clustering texts): kept in the process for 10 minutes, for as long as
    the period's counts per field stay the same (a new or moved ticket changes them)."""
    scope = (official.unit_code, official.role) if official is not None else None
    key = (
        str(session.get_bind().engine.url),
        unit_code,
        start,
        end,
        category,
        channel,
        scope,
        tuple(sorted(by_category.items())),
    )
    now = clock.monotonic()
    with _topic_lock:
        hit = _topic_cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
    found = _topics(session, unit_code, start, end, category, channel, official, by_category)
    with _topic_lock:
        if len(_topic_cache) >= 256:
            for stale in [k for k, (expires, _) in _topic_cache.items() if expires <= now] or list(_topic_cache)[:64]:
                _topic_cache.pop(stale, None)
        _topic_cache[key] = (now + TOPIC_CACHE_SECONDS, found)
    return found


def _topics(
    session: Session,
    unit_code: str,
    start: date,
    end: date,
    category: str | None,
    channel: str | None,
    official: Official | None,
    by_category: dict[str, int],
) -> list[Topic]:
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    lo, hi = utc_bounds(start, end)
    current = _sample(
        session,
        _ticket_filters(unit_code, lo, hi, category=category, channel=channel, official=official),
        by_category,
    )
    if len(current) < TOPIC_MIN_COUNT:
        return []
    p_start, p_end = previous_period(start, end)
    p_lo, p_hi = utc_bounds(p_start, p_end)
    p_filters = _ticket_filters(unit_code, p_lo, p_hi, category=category, channel=channel, official=official)
    p_by_category = {
        (k if k is not None else UNCATEGORISED): int(n)
        for k, n in session.execute(
            select(Ticket.category, func.count()).where(*p_filters).group_by(Ticket.category)
        ).all()
    }
    previous = _sample(session, p_filters, p_by_category)

    vectorizer = TfidfVectorizer(
        preprocessor=_normalise,
        ngram_range=(1, 2),
        stop_words=sorted(STOPWORDS),
        token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
        sublinear_tf=True,
        max_features=8000,
    )
    # Topics are found in both periods' texts together, then each period's members are counted: growth compares like
    # with like (topics fitted to the current period alone would always seem to have grown).
    both = current + previous
    try:
        matrix = vectorizer.fit_transform([t for _, _, t in both])
    except ValueError:  # nothing but stop words
        return []
    terms = np.array(vectorizer.get_feature_names_out())
    index = {str(t): i for i, t in enumerate(terms)}
    spread = np.asarray((matrix > 0).sum(axis=0)).ravel()  # in how many texts each term occurs
    n_current = len(current)
    per_cat: dict[str, list[int]] = defaultdict(list)
    for i, (_, cat, _) in enumerate(both):
        per_cat[cat].append(i)

    found: list[Topic] = []
    for cat, rows in per_cat.items():
        now_rows = [i for i in rows if i < n_current]
        if not now_rows:
            continue
        if len(rows) == 1:
            labels = np.zeros(1, dtype=int)
        else:
            sub = matrix[rows]
            distance = np.clip(1.0 - (sub @ sub.T).toarray(), 0.0, 2.0)
            labels = AgglomerativeClustering(
                n_clusters=None, metric="precomputed", linkage="average", distance_threshold=TOPIC_DISTANCE
            ).fit_predict(distance)
        scale = by_category.get(cat, len(now_rows)) / len(now_rows)
        prev_n_rows = len(rows) - len(now_rows)
        prev_scale = p_by_category.get(cat, prev_n_rows) / prev_n_rows if prev_n_rows else 1.0
        for label in sorted(set(labels.tolist())):
            members = [rows[j] for j in np.flatnonzero(labels == label)]
            in_period = [i for i in members if i < n_current]
            count = round(len(in_period) * scale)
            if count < TOPIC_MIN_COUNT:
                continue
            before = round((len(members) - len(in_period)) * prev_scale)
            centroid = np.asarray(matrix[members].mean(axis=0)).ravel()
            keywords = _keywords(terms, index, centroid, spread)
            if not keywords:
                continue
            closeness = np.asarray(matrix[in_period] @ centroid).ravel()
            order = [in_period[j] for j in np.argsort(-closeness, kind="stable")[:3]]
            # evidence in the texts actually read (at least JUMP_MIN_COUNT of them), against one more petition than
            # seen before: a few petitions more by chance, or by sampling, is no jump
            raw_before = len(members) - len(in_period)
            jump = (
                len(in_period) >= JUMP_MIN_COUNT
                and count >= JUMP_MIN_COUNT
                and len(in_period) >= JUMP_FACTOR * (raw_before + 1)
            )
            found.append(
                Topic(
                    key=f"{cat}:" + "|".join(sorted(keywords[:3])),
                    label=f"{category_name(cat)}: {', '.join(keywords[:3])}",
                    category=cat,
                    keywords=keywords,
                    count=count,
                    previous=before,
                    growth=round(count / before, 2) if before else None,
                    jump=jump,
                    examples=[both[i][0] for i in order],
                    estimated=scale > 1.0 or prev_scale > 1.0,
                )
            )
    found.sort(key=lambda t: (not t.jump, -t.count, t.key))
    return found[:TOPICS_SHOWN]


def _keywords(terms: Any, index: dict[str, int], centroid: Any, spread: Any, n: int = 5) -> list[str]:
    """The heaviest terms of a topic, favouring phrases whose words mostly occur together in the period (real phrases
    such as "thoát nước" over accidental ones such as "thống thoát"), each word used once."""
    import numpy as np

    heaviest = [int(i) for i in np.argsort(-centroid, kind="stable")[: n * 8] if centroid[i] > 0]

    def score(i: int) -> float:
        words = str(terms[i]).split()
        if len(words) == 1:
            return float(centroid[i])
        # a real phrase ("nông sản") keeps its words together; an accidental one ("xuất nông") does not
        alone = min(float(spread[index[w]]) if w in index else 1.0 for w in words)
        cohesion = min(1.0, float(spread[i]) / alone) if alone else 0.0
        return float(centroid[i]) * 1.8 * cohesion

    ranked = sorted(heaviest, key=lambda i: -score(i))
    chosen: list[str] = []
    used: set[str] = set()
    for i in ranked:
        term = str(terms[i])
        words = set(term.split())
        if words & used:
            continue
        chosen.append(term)
        used |= words
        if len(chosen) >= n:
            break
    return chosen


def category_name(code: str | None) -> str:
    if code is None or code == UNCATEGORISED:
        return "Chưa phân loại"
    return CATEGORIES[code][0] if code in CATEGORIES else code


# -- notifications ----------------------------------------------------------------------------------------------


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def notify_topic_jumps(session: Session, summary: Summary, now: datetime | None = None) -> list[TopicAlert]:
    """Store each jumping topic once per unit and week, with a console notice to the unit's officials.

    No chat message is sent. Returns the alerts stored now (not those already stored this week)."""
    now = now or utcnow()
    week = iso_week(today_vn(now))
    stored: list[TopicAlert] = []
    for topic in summary.topics:
        if not topic.jump:
            continue
        exists = session.scalar(
            select(TopicAlert.id).where(
                TopicAlert.unit_code == summary.unit_code, TopicAlert.topic_key == topic.key, TopicAlert.week == week
            )
        )
        if exists is not None:
            continue
        alert = TopicAlert(
            unit_code=summary.unit_code,
            topic_key=topic.key[:200],
            week=week,
            label=topic.label[:300],
            category=topic.category if topic.category in CATEGORIES else None,
            count=topic.count,
            previous=topic.previous,
            period_start=summary.start,
            period_end=summary.end,
            data={"keywords": topic.keywords, "examples": topic.examples},
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(alert)
                session.flush()
        except IntegrityError:  # another request stored it first
            continue
        before = f"{topic.previous} phản ánh kỳ trước" if topic.previous else "kỳ trước chưa có phản ánh nào"
        session.add(
            ConsoleNotice(
                unit_code=summary.unit_code,
                kind="topic_jump",
                text=(
                    f"Chủ đề tăng đột biến: «{topic.label}» — {topic.count} phản ánh từ "
                    f"{summary.start:%d/%m/%Y} đến {summary.end:%d/%m/%Y} ({before})."
                ),
                link=f"/console/reports?unit={summary.unit_code}&from={summary.start}&to={summary.end}#chu-de",
                created_at=now,
            )
        )
        stored.append(alert)
    return stored


def recent_notices(session: Session, unit_code: str, limit: int = 10) -> list[ConsoleNotice]:
    return list(
        session.scalars(
            select(ConsoleNotice)
            .where(ConsoleNotice.unit_code == unit_code)
            .order_by(ConsoleNotice.created_at.desc(), ConsoleNotice.id.desc())
            .limit(limit)
        )
    )


# -- the public transparency figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicStats:
    """Counts only: no text, no names, no places below the province, no detail of sensitive fields."""

    start: date
    end: date
    total: int
    answered: int
    answered_on_time: int
    on_time_rate: float | None
    by_province: list[dict[str, Any]]  # {code, name, total, answered, on_time_rate}
    by_category: list[dict[str, Any]]  # {code, name, total}
    by_month: list[dict[str, Any]]  # {month: "YYYY-MM", total}
    generated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        data["generated_at"] = self.generated_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PublicStats:
        return cls(
            **{
                **data,
                "start": date.fromisoformat(data["start"]),
                "end": date.fromisoformat(data["end"]),
                "generated_at": datetime.fromisoformat(data["generated_at"]),
            }
        )


def public_stats(session: Session, now: datetime | None = None, months: int = 12) -> PublicStats:
    """The last ``months`` calendar months (Vietnam time), this month included: counts by province (of the handling
    committee), by field and by month, and the on-time rate. Sensitive fields appear only as one count each."""
    now = now or utcnow()
    end = today_vn(now)
    first = date(end.year, end.month, 1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    lo, hi = utc_bounds(first, end)
    filters = [Ticket.created_at >= lo, Ticket.created_at < hi]
    times = _first_times(filters)
    on_time = and_(
        times.c.answered_at.is_not(None), or_(Ticket.deadline.is_(None), times.c.answered_at <= Ticket.deadline)
    )
    province = case(
        (OrgUnit.level == "province", OrgUnit.code),
        (OrgUnit.level == "commune", OrgUnit.parent_code),
        else_=literal(CENTRAL),
    ).label("province")
    rows = session.execute(
        select(
            province,
            func.count(),
            func.count(times.c.answered_at),
            func.coalesce(func.sum(case((on_time, 1), else_=0)), 0),
        )
        .select_from(Ticket)
        .join(OrgUnit, OrgUnit.code == Ticket.unit_code)
        .outerjoin(times, times.c.ticket_id == Ticket.id)
        .where(*filters)
        .group_by(province)
    ).all()
    names = dict(
        session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.level.in_(("central", "province")))).all()
    )
    by_province = []
    ok_total = 0
    for code, total, answered, ok in rows:
        ok_total += int(ok)
        by_province.append(
            {
                "code": code,
                "name": "Trung ương" if code == CENTRAL else names.get(code, code),
                "total": int(total),
                "answered": int(answered),
                "on_time_rate": _rate(int(ok), int(answered)),
            }
        )
    by_province.sort(key=lambda r: (-r["total"], r["code"]))
    cats = session.execute(select(Ticket.category, func.count()).where(*filters).group_by(Ticket.category)).all()
    by_category: list[dict[str, Any]] = sorted(
        ({"code": c or UNCATEGORISED, "name": category_name(c), "total": int(n)} for c, n in cats),
        key=lambda r: (-r["total"], r["code"]),
    )
    day = _local_day(session).label("day")
    per_day = session.execute(select(day, func.count()).where(*filters).group_by(day)).all()
    month_counts: Counter[str] = Counter()
    for raw, n in per_day:
        month_counts[_as_date(raw).strftime("%Y-%m")] += int(n)
    by_month = []
    cursor = first
    while cursor <= end:
        key = cursor.strftime("%Y-%m")
        by_month.append({"month": key, "total": month_counts.get(key, 0)})
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    answered = sum(r["answered"] for r in by_province)
    total = sum(r["total"] for r in by_province)
    return PublicStats(
        start=first,
        end=end,
        total=total,
        answered=answered,
        answered_on_time=ok_total,
        on_time_rate=_rate(ok_total, answered),
        by_province=by_province,
        by_category=by_category,
        by_month=by_month,
        generated_at=now,
    )
