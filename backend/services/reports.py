"""Summary reports of what the people say: counts by status, field, channel, place and time, handling results,
satisfaction and emerging topics, for a unit's subtree over a period of Vietnamese calendar days.

Counts of whole past days come from the daily roll-ups (``backend/services/rollups.py``, aggregated in SQL), those of
today and of days changed since the roll-ups' last pass from the tickets themselves, counted alike; topics come from
a bounded sample of the period's texts (TF-IDF and average-linkage clustering within each field, scikit-learn), kept
in ``report_topic_cache`` and computed ahead by the worker for the central committee and the provinces.

``summarize`` is the one entry point (API, console, periodic DOCX/XLSX reports); its signature is kept stable.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time as clock
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Official, OrgUnit, Ticket, utcnow
from backend.db.report_models import TopicAlert
from backend.db.report_store_models import ConsoleNotice
from backend.db.rollup_models import ReportDaily, ReportTicketFact, TopicCache
from backend.domain.routing import CENTRAL
from backend.domain.taxonomy import CATEGORIES
from backend.services import rollups
from backend.services.rollups import UNCATEGORISED as UNCATEGORISED  # re-exported: callers name them here
from backend.services.rollups import today_vn as today_vn
from backend.services.rollups import utc_bounds as utc_bounds
from backend.services.tickets import unit_subtree

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


@dataclass(frozen=True)
class Scope:
    """Whose tickets a summary counts: an officer sees their own unit's, supervisors and admins their subtree."""

    unit_code: str
    role: str

    @classmethod
    def of(cls, official: Official | None) -> Scope | None:
        return cls(official.unit_code, official.role) if official is not None else None


def _unit_filters(
    column: Any, unit_code: str, scope: Scope | None, units: frozenset[str] | None = None
) -> list[ColumnElement[bool]]:
    """The unit's subtree, narrowed to what the asker may see (as :func:`backend.services.tickets.unit_scope`);
    ``units``: those units, read beforehand (:meth:`SummaryQuery.resolved`)."""
    if units is not None:
        return [column.in_(sorted(units))]
    filters: list[ColumnElement[bool]] = []
    if unit_code != CENTRAL:
        filters.append(column.in_(unit_subtree(unit_code)))
    if scope is not None and scope.role == "officer":
        filters.append(column == scope.unit_code)
    elif scope is not None and scope.unit_code != CENTRAL:
        filters.append(column.in_(unit_subtree(scope.unit_code)))
    return filters


@dataclass(frozen=True)
class SummaryQuery:
    """One summary's question: a unit's subtree over Vietnam calendar days, maybe one field or channel, as seen by
    one asker (``scope``; ``None``: everything, as the worker sees it)."""

    unit_code: str
    start: date
    end: date
    category: str | None = None
    channel: str | None = None
    scope: Scope | None = None
    units: frozenset[str] | None = field(default=None, repr=False, compare=False)  # the units counted, when read

    def resolved(self, session: Session) -> SummaryQuery:
        """The query with the units it counts read once (below the central committee): the planner then sees how few
        tickets a commune has, and picks the index on (unit, creation time)."""
        whole_tree = self.scope is None or (self.scope.unit_code == CENTRAL and self.scope.role != "officer")
        if self.unit_code == CENTRAL and whole_tree:
            return self  # every unit: no filter at all
        codes = select(OrgUnit.code).where(*_unit_filters(OrgUnit.code, self.unit_code, self.scope))
        return replace(self, units=frozenset(session.scalars(codes)))

    def ticket_filters(self) -> list[ColumnElement[bool]]:
        lo, hi = utc_bounds(self.start, self.end)
        filters = [Ticket.created_at >= lo, Ticket.created_at < hi]
        filters += _unit_filters(Ticket.unit_code, self.unit_code, self.scope, self.units)
        if self.category == UNCATEGORISED:
            filters.append(Ticket.category.is_(None))
        elif self.category:
            filters.append(Ticket.category == self.category)
        if self.channel:
            filters.append(Ticket.channel == self.channel)
        return filters

    def rollup_filters(
        self, days: Sequence[tuple[date, date]], r: type[ReportDaily] | type[ReportTicketFact] = ReportDaily
    ) -> list[ColumnElement[bool]]:
        """The filters over the roll-ups (``ReportDaily``) or the facts they were made of (``ReportTicketFact``)."""
        filters = [or_(*[and_(r.day >= first, r.day <= last) for first, last in days])]
        filters += _unit_filters(r.unit_code, self.unit_code, self.scope, self.units)
        if self.category:
            filters.append(r.category == self.category)
        if self.channel:
            filters.append(r.channel == self.channel)
        return filters

    def previous(self) -> SummaryQuery:
        first, last = previous_period(self.start, self.end)
        return replace(self, start=first, end=last)

    def key(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()


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

    Whole past days come from the daily roll-ups where they are up to date (``backend/services/rollups.py``), the
    other days from the tickets: both count alike.
    ``official``, when given, narrows the tickets to those the official may see (an officer: their own unit's);
    callers check first that the unit is in the official's subtree (:func:`unit_in_scope`).
    Raises :class:`UnitNotFound` for an unknown unit and :class:`PeriodError` for a bad period.
    """
    check_period(start, end)
    unit = session.get(OrgUnit, unit_code)
    if unit is None:
        raise UnitNotFound(unit_code)
    now = now or utcnow()
    query = SummaryQuery(unit.code, start, end, category, channel, Scope.of(official)).resolved(session)
    officer = official is not None and official.role == "officer"  # sees their own unit only: nothing below
    children = [] if officer else child_units(session, unit.code)
    # a ticket belongs to the child that is its unit, or its unit's parent (TW → province ← commune)
    child = case((OrgUnit.parent_code == unit.code, OrgUnit.code), else_=OrgUnit.parent_code) if children else None

    tally = rollups.Tally()
    cover = rollups.coverage(session, start, end, now)
    base = query.ticket_filters()
    if cover.raw:
        facts = rollups.fact_rows(session, [*base, rollups.created_on(cover.raw)], child)
        tally.add_facts(facts, now, exclude_unit=unit.code)
    if cover.rolled and cover.mark is not None:
        tally.add(_rolled_up(session, query, cover.rolled, cover.mark, child, unit.code))
        rolled = [*base, rollups.created_on(cover.rolled)]
        as_rolled = query.rollup_filters(cover.rolled, ReportTicketFact)
        changed = rollups.changed_list(session, cover.mark)
        rollups.replace_changed(session, tally, as_rolled, rolled, changed, now, child, unit.code)
        unchanged = [*rolled, Ticket.id.not_in(changed)]  # the changed ones are counted afresh above
        rollups.add_unflagged_overdue(session, tally, unchanged, now, child, unit.code)
    tally.prune()

    distribution = {str(s): 0 for s in range(1, 6)}
    for stars, n in sorted(tally.ratings.items()):
        distribution[str(stars)] = distribution.get(str(stars), 0) + n
    rated = sum(distribution.values())
    mean = round(sum(int(k) * v for k, v in distribution.items()) / rated, 2) if rated else None
    by_child = []
    for c in children:
        t, o, a, ok = tally.by_child.get(c.code, (0, 0, 0, 0))
        by_child.append(ChildUnitStats(c.code, c.name, t, o, a, ok, _rate(ok, a)))
    by_child.sort(key=lambda s: (-s.total, -s.overdue, s.code))
    by_category = dict(sorted(tally.by_category.items(), key=lambda kv: (-kv[1], kv[0])))
    granularity = "day" if (end - start).days + 1 <= DAILY_TREND_MAX_DAYS else "week"
    found = _cached_topics(session, query, by_category, now) if topics else []
    return Summary(
        unit_code=unit.code,
        unit_name=unit.name,
        unit_level=unit.level,
        start=start,
        end=end,
        category=category,
        channel=channel,
        total=tally.total,
        by_status=dict(sorted(tally.by_status.items())),
        by_category=by_category,
        by_channel=dict(sorted(tally.by_channel.items())),
        urgent=tally.urgent,
        overdue=tally.overdue,
        answered=tally.answered,
        answered_on_time=tally.on_time,
        on_time_rate=_rate(tally.on_time, tally.answered),
        median_first_response_hours=tally.median_response_hours(),
        satisfaction=Satisfaction(count=rated, mean=mean, distribution=distribution),
        by_child_unit=by_child,
        trend_granularity=granularity,
        trend=_trend(tally, start, end, granularity),
        topics=found,
        generated_at=now,
    )


ROLLED_CACHE_SECONDS = 300
_rolled_cache: dict[tuple[Any, ...], tuple[float, rollups.Tally]] = {}
_rolled_lock = threading.Lock()


def _rolled_up(
    session: Session,
    query: SummaryQuery,
    days: list[tuple[date, date]],
    mark: Any,
    child: ColumnElement[Any] | None,
    unit_code: str,
) -> rollups.Tally:
    """The roll-ups' counts of the query's days, kept in the process until the worker's next pass changes the
    roll-ups (their state is part of the key): every asker of the same summary shares them."""
    key: tuple[Any, ...] = (str(session.get_bind().engine.url), repr(query), tuple(sorted(query.units or ())))
    key += (tuple(days), child is not None)
    key += (mark.covered_until, mark.updated_until, mark.ticket_id, mark.event_id, mark.refreshed_at)
    tick = clock.monotonic()
    with _rolled_lock:
        hit = _rolled_cache.get(key)
        if hit is not None and hit[0] > tick:
            return hit[1]
    tally = rollups.Tally()
    rollups.add_rollups(session, tally, query.rollup_filters(days), child, unit_code)
    with _rolled_lock:
        if len(_rolled_cache) >= 128:
            stale = [k for k, (expires, _) in _rolled_cache.items() if expires <= tick] or list(_rolled_cache)[:32]
            for old in stale:
                _rolled_cache.pop(old, None)
        _rolled_cache[key] = (tick + ROLLED_CACHE_SECONDS, tally)
    return tally


def _trend(tally: rollups.Tally, start: date, end: date, granularity: str) -> list[TrendPoint]:
    buckets: dict[date, Counter[str]] = {}
    cursor = start if granularity == "day" else start - timedelta(days=start.weekday())
    step = timedelta(days=1 if granularity == "day" else 7)
    while cursor <= end:
        buckets[cursor] = Counter()
        cursor += step
    for (d, cat), n in tally.trend.items():
        key = d if granularity == "day" else d - timedelta(days=d.weekday())
        buckets.setdefault(key, Counter())[cat] += n
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
        order = (cast(Ticket.id, BigInteger) * _HASH_MUL) % _HASH_MOD if n > limit else Ticket.id
        rows = session.execute(select(Ticket.code, Ticket.text).where(*texts, where).order_by(order).limit(limit)).all()
        out.extend((code, cat, text) for code, text in rows)
    return out


_HASH_MUL, _HASH_MOD = literal(2654435761, BigInteger), literal(4294967291, BigInteger)  # beyond 32-bit integers
TOPIC_CACHE_SECONDS = 600  # in the process, while the counts per field stay the same
TOPIC_STORED_SECONDS = 24 * 3600  # in the database, while the counts per field stay the same
TOPIC_DRIFT_SECONDS = 1800  # in the database, while the period grew by at most TOPIC_DRIFT
TOPIC_DRIFT = 0.02
_topic_cache: dict[tuple[str, str, str], tuple[float, list[Topic]]] = {}
_topic_lock = threading.Lock()


def _fingerprint(by_category: dict[str, int]) -> str:
    return hashlib.sha256(repr(sorted(by_category.items())).encode()).hexdigest()


def _cached_topics(
    session: Session, query: SummaryQuery, by_category: dict[str, int], now: datetime | None = None
) -> list[Topic]:
    """Topics are the slow part (reading and clustering texts), so they are kept: in the process for 10 minutes and
    in the database (``report_topic_cache``, filled ahead by the worker for the central committee and the provinces)
    for a day, for as long as the period's counts per field stay the same — or for half an hour while they grew by
    at most 2 % (a few new petitions in a large period do not make new topics)."""
    now = now or utcnow()
    key, fingerprint = query.key(), _fingerprint(by_category)
    memo = (str(session.get_bind().engine.url), key, fingerprint)
    tick = clock.monotonic()
    with _topic_lock:
        hit = _topic_cache.get(memo)
        if hit is not None and hit[0] > tick:
            return hit[1]
    total = sum(by_category.values())
    stored = session.get(TopicCache, key)
    if stored is not None and _still_good(stored, fingerprint, total, now):
        found = [_topic_from(t) for t in stored.data]
    else:
        found = _topics(session, query, by_category)
        _store_topics(session, query, fingerprint, total, found, now)
    with _topic_lock:
        if len(_topic_cache) >= 256:
            for stale in [k for k, (expires, _) in _topic_cache.items() if expires <= tick] or list(_topic_cache)[:64]:
                _topic_cache.pop(stale, None)
        _topic_cache[memo] = (tick + TOPIC_CACHE_SECONDS, found)
    return found


def _still_good(stored: TopicCache, fingerprint: str, total: int, now: datetime) -> bool:
    age = (now - stored.computed_at).total_seconds()
    if stored.fingerprint == fingerprint:
        return age < TOPIC_STORED_SECONDS
    drift = abs(total - stored.total) / max(stored.total, 1)
    return age < TOPIC_DRIFT_SECONDS and drift <= TOPIC_DRIFT


def _topic_from(data: dict[str, Any]) -> Topic:
    return Topic(**data)


def _store_topics(
    session: Session, query: SummaryQuery, fingerprint: str, total: int, found: list[Topic], now: datetime
) -> None:
    """Kept with the caller's transaction (callers that only read and roll back simply do not keep them)."""
    data = [asdict(t) for t in found]
    try:
        with session.begin_nested():
            row = session.get(TopicCache, query.key())
            if row is None:
                session.add(
                    TopicCache(
                        key=query.key(),
                        unit_code=query.unit_code,
                        fingerprint=fingerprint,
                        total=total,
                        data=data,
                        computed_at=now,
                    )
                )
            else:
                row.fingerprint, row.total, row.data, row.computed_at = fingerprint, total, data, now
            session.flush()
    except IntegrityError:  # another request stored them first
        pass


def precompute_topics(session: Session, units: Sequence[str], now: datetime | None = None) -> int:
    """The worker's part: the topics of the default period (the last 30 days) of each unit, as its supervisors see
    them, stored ahead so that the first summary of the day does not wait for them. Returns how many were computed."""
    now = now or utcnow()
    start, end = default_period(now)
    computed = 0
    for code in units:
        unit = session.get(OrgUnit, code)
        if unit is None:
            continue
        query = SummaryQuery(code, start, end, scope=Scope(code, "supervisor")).resolved(session)
        counts = session.execute(
            select(Ticket.category, func.count()).where(*query.ticket_filters()).group_by(Ticket.category)
        ).all()
        by_category = {(k if k is not None else UNCATEGORISED): int(n) for k, n in counts}
        stored = session.get(TopicCache, query.key())
        fingerprint = _fingerprint(by_category)
        if stored is not None and _still_good(stored, fingerprint, sum(by_category.values()), now):
            continue
        _store_topics(session, query, fingerprint, sum(by_category.values()), _topics(session, query, by_category), now)
        session.commit()
        computed += 1
    return computed


def _topics(session: Session, query: SummaryQuery, by_category: dict[str, int]) -> list[Topic]:
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    current = _sample(session, query.ticket_filters(), by_category)
    if len(current) < TOPIC_MIN_COUNT:
        return []
    p_filters = query.previous().ticket_filters()
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
    times = rollups.first_times(filters)
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
    day = rollups.local_day(session).label("day")
    per_day = session.execute(select(day, func.count()).where(*filters).group_by(day)).all()
    month_counts: Counter[str] = Counter()
    for raw, n in per_day:
        month_counts[rollups.as_date(raw).strftime("%Y-%m")] += int(n)
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
