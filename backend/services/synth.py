"""Synthetic tickets at scale, for demonstrations, reports and benchmarks (``gopy dev synth``).

Realistic enough to read and to count: the texts are the citizens' sentences of the NLU training data
(``data/nlu``, ``gui_phan_anh/<category>``); places are drawn by province weighted by its number of communes (the
gazetteer has no population figures; since the 2025 mergers commune-level units were sized by population and area,
so their count is a rough proxy of a province's population), then a commune uniformly within it; the routing follows
the default rules (commune; province when only the province is known or for complaints about officials; central for
opinions on laws); deadlines come from the SLA policy in working days; statuses, events, replies and ratings follow
plausible delays, so that some tickets are overdue and some urgent.

Rows are written in bulk: ``COPY`` on PostgreSQL (psycopg), ``executemany`` on SQLite. Existing data is kept.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
import time as clock
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, Table, func, select

from backend.db.models import Citizen, Message, OrgUnit, Ticket, TicketEvent, utcnow
from backend.domain import statuses as st
from backend.domain.codes import CROCKFORD
from backend.domain.deadlines import VN_TZ, add_hours, add_working_days
from backend.domain.routing import CENTRAL
from backend.domain.search import search_key
from backend.domain.sla import SlaPolicy
from backend.domain.taxonomy import CATEGORIES

# Shares of the fields, roughly as the Front's public reports describe them (infrastructure, land and environment
# lead; emergencies are rare).
CATEGORY_WEIGHTS: dict[str, float] = {
    "ha_tang": 19,
    "dat_dai": 13,
    "moi_truong": 12,
    "an_sinh": 9,
    "thu_tuc_hanh_chinh": 8,
    "an_ninh_trat_tu": 8,
    "y_te": 6,
    "giao_duc": 6,
    "kinh_te_viec_lam": 6,
    "can_bo_tham_nhung": 3,
    "chinh_sach_phap_luat": 3,
    "khen_ngoi": 3,
    "thien_tai_khan_cap": 2,
    "khac": 2,
}
CHANNEL_WEIGHTS = {"zalo": 55, "telegram": 22, "webchat": 18, "zalobot": 5}
RATING_WEIGHTS = (5, 7, 15, 33, 40)  # 1..5 stars
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô")
MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quốc", "Thu", "Xuân")
GIVEN = ("An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hùng", "Lan", "Linh", "Mai", "Nam", "Phúc",
         "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến")  # fmt: skip
REPLIES = (
    "Ủy ban MTTQ đã tiếp nhận và chuyển ý kiến của ông/bà tới cơ quan có thẩm quyền; kết quả sẽ được thông báo lại.",
    "Cơ quan chức năng đã kiểm tra thực tế và có phương án khắc phục trong tuần tới. Trân trọng cảm ơn ông/bà.",
    "Nội dung phản ánh đã được UBND cấp xã giải quyết. Mong ông/bà tiếp tục đồng hành cùng Mặt trận.",
    "Ý kiến của ông/bà đã được tổng hợp gửi cơ quan soạn thảo. Xin cảm ơn ông/bà đã đóng góp.",
)
BATCH = 20_000
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


class SynthError(RuntimeError):
    pass


@dataclass
class SynthResult:
    tickets: int = 0
    citizens: int = 0
    events: int = 0
    messages: int = 0
    seconds: float = 0.0
    by_category: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    urgent: int = 0

    @property
    def per_second(self) -> float:
        return self.tickets / self.seconds if self.seconds else 0.0


def training_texts(root: Path) -> dict[str, list[str]]:
    """The citizens' sentences of each field in the Rasa NLU files under ``root`` (the held-out ``test`` excluded)."""
    texts: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for path in sorted(root.rglob("*.yml")):
        if "test" in path.relative_to(root).parts:
            continue
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        for block in doc.get("nlu") or [] if isinstance(doc, dict) else []:
            intent = str(block.get("intent") or "") if isinstance(block, dict) else ""
            if not intent.startswith("gui_phan_anh/"):
                continue
            category = intent.split("/", 1)[1]
            if category not in texts:
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    sentence = _ANNOTATION.sub(r"\1", line[2:]).strip()
                    if sentence:
                        texts[category].append(sentence)
    missing = [c for c, items in texts.items() if not items]
    if missing:
        raise SynthError(f"no training sentences for {', '.join(missing)} under {root}")
    return texts


@dataclass(frozen=True)
class Geography:
    provinces: list[str]
    weights: list[float]
    communes: dict[str, list[str]]


def geography(engine: Engine) -> Geography:
    with engine.connect() as conn:
        rows = conn.execute(
            select(OrgUnit.code, OrgUnit.level, OrgUnit.parent_code).where(OrgUnit.active.is_(True))
        ).all()
    communes: dict[str, list[str]] = {}
    provinces = sorted(code for code, level, _ in rows if level == "province")
    for code, level, parent in rows:
        if level == "commune" and parent:
            communes.setdefault(parent, []).append(code)
    if not provinces:
        raise SynthError("no provinces in the database: run `gopy seed` first")
    weights = [float(max(1, len(communes.get(p, [])))) for p in provinces]
    return Geography(provinces, weights, {p: sorted(c) for p, c in communes.items()})


class _Deadlines:
    """SLA deadlines, memoised per local day (they depend only on the day, the field, the level and urgency)."""

    def __init__(self, sla: SlaPolicy) -> None:
        self.sla = sla
        self._days: dict[tuple[date, int], datetime] = {}

    def working(self, start: datetime, days: int) -> datetime:
        key = (start.astimezone(VN_TZ).date(), days)
        if key not in self._days:
            self._days[key] = add_working_days(start, days)
        return self._days[key]

    def __call__(self, category: str, level: str, urgent: bool, created: datetime) -> tuple[datetime, datetime]:
        rule = self.sla.rule(category, level, urgent)
        if rule.accept_hours is not None:
            accept = add_hours(created, rule.accept_hours)
        else:
            accept = self.working(created, rule.accept_working_days or 2)
        return accept, self.working(created, rule.answer_working_days or 15)


def _created_times(rng: random.Random, n: int, now: datetime, months: int) -> list[datetime]:
    """Arrival times over the last ``months`` months: growing slowly, fewer on weekends, mostly in daytime."""
    span = timedelta(days=round(30.44 * months))
    start = now - span
    seconds = span.total_seconds()
    out: list[datetime] = []
    while len(out) < n:
        # density rising linearly from 0.7 to 1.3 across the span
        u = rng.random()
        frac = (-0.7 + math.sqrt(0.49 + 1.2 * u)) / 0.6
        moment = start + timedelta(seconds=frac * seconds)
        local = moment.astimezone(VN_TZ)
        if local.weekday() >= 5 and rng.random() < 0.4:
            continue
        hour = rng.choices(_HOUR_RANGE, cum_weights=_HOURS_CUM)[0]
        moment = local.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60)).astimezone(UTC)
        if moment >= now:
            continue
        out.append(moment)
    out.sort()
    return out


_HOURS = (1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 9, 8, 6, 7, 8, 8, 7, 7, 8, 9, 8, 6, 4, 2)
_HOUR_RANGE = range(24)
_HOURS_CUM = list(accumulate(_HOURS))


def _code(rng: random.Random) -> str:
    """A ticket code from the seeded generator (synthetic data only: real codes come from ``secrets``)."""
    bits = rng.getrandbits(40)
    body = "".join(CROCKFORD[(bits >> (5 * i)) & 31] for i in range(8))
    return f"PA-{body[:4]}-{body[4:]}"


def synthesize(
    engine: Engine,
    n: int,
    *,
    seed: int = 0,
    months: int = 6,
    now: datetime | None = None,
    data_dir: Path | None = None,
    sla: SlaPolicy | None = None,
) -> SynthResult:
    """Add ``n`` synthetic tickets (with citizens, events, messages) to the database behind ``engine``."""
    if n < 1:
        raise SynthError("the number of tickets must be at least 1")
    if months < 1 or months > 120:
        raise SynthError("months must be between 1 and 120")
    started = clock.perf_counter()
    rng = random.Random(seed)
    code_rng = random.Random(f"codes-{seed}")
    now = now or utcnow()
    root = data_dir or Path(__file__).resolve().parents[2] / "data"
    texts = training_texts(root / "nlu")
    geo = geography(engine)
    if sla is None:
        from backend.domain.sla import load_sla

        routing = root / "routing.yml"
        sla = load_sla(routing) if routing.exists() else SlaPolicy()
    deadlines = _Deadlines(sla)

    with engine.connect() as conn:
        next_ticket = (conn.scalar(select(func.max(Ticket.id))) or 0) + 1
        next_citizen = (conn.scalar(select(func.max(Citizen.id))) or 0) + 1
        next_event = (conn.scalar(select(func.max(TicketEvent.id))) or 0) + 1
        next_message = (conn.scalar(select(func.max(Message.id))) or 0) + 1
        has_codes = (conn.scalar(select(func.count()).select_from(Ticket)) or 0) > 0
        codes: set[str] = set(conn.scalars(select(Ticket.code))) if has_codes else set()

    result = SynthResult()
    # citizens: about 0.7 per ticket (some write several times)
    n_citizens = max(1, round(n * 0.7))
    channels = list(CHANNEL_WEIGHTS)
    channel_cum = list(accumulate(CHANNEL_WEIGHTS.values()))
    citizen_rows: list[dict[str, Any]] = []
    citizen_channel: list[str] = []
    tag = f"synth-{seed}-{next_citizen}"
    for i in range(n_citizens):
        channel = rng.choices(channels, cum_weights=channel_cum)[0]
        named = rng.random() < 0.8
        user = f"{tag}-{i}"
        citizen_rows.append(
            {
                "id": next_citizen + i,
                "channel": channel,
                "platform_user_id": user,
                "chat_id": user,
                "display_name": f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}" if named else None,
                "phone": f"09{rng.randrange(10**8):08d}" if named and rng.random() < 0.4 else None,
                "consent": "named" if named else "anonymous",
                "consent_at": now - timedelta(days=rng.randrange(30 * months + 1)),
                "last_inbound_at": now - timedelta(days=rng.randrange(30 * months + 1)),
                "erased_at": None,
                "created_at": now - timedelta(days=30 * months + 1),
            }
        )
        citizen_channel.append(channel)

    created_times = _created_times(rng, n, now, months)
    categories = list(CATEGORY_WEIGHTS)
    category_cum = list(accumulate(CATEGORY_WEIGHTS.values()))
    province_cum = list(accumulate(geo.weights))
    rating_cum = list(accumulate(RATING_WEIGHTS))
    late_rating_cum = list(accumulate((25, 20, 25, 18, 12)))
    stars = range(1, 6)
    ticket_rows: list[dict[str, Any]] = []
    event_rows: list[tuple[Any, ...]] = []  # in the column order of ticket_events (1.4 million rows for 200,000)
    message_rows: list[dict[str, Any]] = []
    event_id, message_id = next_event, next_message
    no_data: dict[str, Any] = {}

    def event(
        ticket_id: int,
        when: datetime,
        kind: str,
        actor_type: str,
        actor: str | None,
        *,
        old: str | None = None,
        new: str | None = None,
        note: str | None = None,
        public: bool = True,
        data: dict[str, Any] = no_data,
    ) -> None:
        nonlocal event_id
        event_rows.append((event_id, ticket_id, kind, actor_type, actor, old, new, note, public, data, when))
        event_id += 1

    folded = functools.cache(lambda sentence: search_key(None, sentence, None))  # the same sentences recur

    for index, created in enumerate(created_times):
        ticket_id = next_ticket + index
        category = rng.choices(categories, cum_weights=category_cum)[0]
        text_value = rng.choice(texts[category])
        citizen_index = rng.randrange(n_citizens)
        citizen = citizen_rows[citizen_index]
        province = rng.choices(geo.provinces, cum_weights=province_cum)[0]
        communes = geo.communes.get(province, [])
        commune = rng.choice(communes) if communes and rng.random() < 0.9 else None
        if category == "chinh_sach_phap_luat":
            unit, level, rule = CENTRAL, "central", "law_policy_to_central"
        elif category == "can_bo_tham_nhung" or commune is None:
            unit, level, rule = province, "province", "above_location" if commune else "province_only"
        else:
            unit, level, rule = commune, "commune", "commune"
        urgent = (category == "thien_tai_khan_cap" and rng.random() < 0.9) or rng.random() < 0.005
        anonymous = citizen["consent"] == "anonymous"
        accept_deadline, deadline = deadlines(category, level, urgent, created)

        # the handling: accepted after some hours, answered after some days (lognormal), some never in time
        accept_delay = timedelta(hours=rng.lognormvariate(math.log(2 if urgent else 18), 0.9))
        answer_delay = timedelta(days=rng.lognormvariate(math.log(0.6 if urgent else 7), 0.75))
        accepted_at = created + accept_delay
        answered_at = created + max(answer_delay, accept_delay + timedelta(minutes=30))
        rejected = rng.random() < 0.04
        event(ticket_id, created, "created", "citizen", str(citizen["id"]), new=st.MOI)
        event(ticket_id, created, "routed", "system", "router", public=False, note=f"synthetic: {rule}",
              data={"rule": rule, "unit": unit, "alerts": []})  # fmt: skip
        officer = f"canbo.{unit.lower()}"
        status = st.MOI
        rating = None
        updated = created
        if accepted_at < now:
            if rejected:
                event(ticket_id, accepted_at, "status", "official", officer, old=st.MOI, new=st.TU_CHOI,
                      note="Nội dung trùng lặp hoặc không thuộc phạm vi tiếp nhận.")  # fmt: skip
                status, updated = st.TU_CHOI, accepted_at
            else:
                event(ticket_id, accepted_at, "status", "official", officer, old=st.MOI, new=st.DA_TIEP_NHAN)
                status, updated = st.DA_TIEP_NHAN, accepted_at
                middle = accepted_at + (answered_at - accepted_at) / 3
                if middle < now:
                    nxt = st.DA_CHUYEN if rng.random() < 0.2 else st.DANG_XU_LY
                    note = "Đã chuyển cơ quan có thẩm quyền giải quyết." if nxt == st.DA_CHUYEN else None
                    event(ticket_id, middle, "status", "official", officer, old=status, new=nxt, note=note)
                    status, updated = nxt, middle
                if answered_at < now:
                    event(ticket_id, answered_at, "reply", "official", officer, note=rng.choice(REPLIES))
                    event(ticket_id, answered_at, "status", "official", officer, old=status, new=st.DA_TRA_LOI)
                    status, updated = st.DA_TRA_LOI, answered_at
                    rated_at = answered_at + timedelta(hours=rng.lognormvariate(math.log(20), 1.0))
                    if rng.random() < 0.55 and rated_at < now:
                        late = answered_at > deadline
                        rating = rng.choices(stars, cum_weights=late_rating_cum if late else rating_cum)[0]
                        event(ticket_id, rated_at, "rating", "citizen", str(citizen["id"]), data={"rating": rating})
                        updated = rated_at
                    closed_at = answered_at + timedelta(days=rng.uniform(3, 10))
                    if closed_at < now and rng.random() < 0.7:
                        event(ticket_id, closed_at, "status", "system", "system", old=st.DA_TRA_LOI, new=st.DA_DONG)
                        status, updated = st.DA_DONG, closed_at
                elif rng.random() < 0.08:
                    event(ticket_id, updated + timedelta(hours=1), "status", "official", officer, old=status,
                          new=st.CAN_BO_SUNG, note="Đề nghị ông/bà cung cấp thêm địa chỉ cụ thể.")  # fmt: skip
                    status = st.CAN_BO_SUNG
                    updated = updated + timedelta(hours=1)
        finished = answered_at if status in (st.DA_TRA_LOI, st.DA_DONG) else None
        overdue = status != st.TU_CHOI and (finished or now) > deadline
        if overdue:
            event(ticket_id, deadline, "escalated", "system", "sla", note="Quá hạn trả lời: báo cáo lên cấp trên.",
                  data={"to": None, "deadline": "answer"})  # fmt: skip
        code = _code(code_rng)
        while code in codes:  # codes come from their own generator: a collision does not change the rest
            code = _code(code_rng)
        codes.add(code)
        ticket_rows.append(
            {
                "id": ticket_id,
                "code": code,
                "citizen_id": citizen["id"],
                "channel": citizen_channel[citizen_index],
                "text": text_value,
                "intent": "gui_phan_anh",
                "intent_confidence": round(rng.uniform(0.7, 0.99), 3),
                "category": category,
                "category_confidence": round(rng.uniform(0.45, 0.98), 3),
                "location_text": None,
                "province_code": province,
                "commune_code": commune,
                "latitude": None,
                "longitude": None,
                "urgent": urgent,
                "anonymous": anonymous,
                "phone": None if anonymous else citizen["phone"],
                "unit_code": unit,
                "routing_rule": rule,
                "routing_reason": f"Dữ liệu mô phỏng: quy tắc {rule}.",
                "status": status,
                "accept_deadline": accept_deadline,
                "deadline": deadline,
                "overdue": overdue,
                "escalated_to": None,
                "handoff_until": None,
                "rating": rating,
                "rating_comment": None,
                "duplicate_of": None,
                "nlu": {"synthetic": True},
                "attachments": [],
                "personal_data_erased_at": None,
                "created_at": created,
                "updated_at": max(updated, created),
                "assignee": None,
                "search_text": f"{search_key(code, None, None)} {folded(text_value)}",
            }
        )
        message_rows.append(
            {
                "id": message_id,
                "channel": citizen_channel[citizen_index],
                "direction": "in",
                "platform_message_id": f"{tag}-m{index}",
                "citizen_id": citizen["id"],
                "ticket_id": ticket_id,
                "draft_id": None,
                "kind": "text",
                "text": text_value,
                "data": {},
                "author": None,
                "processed_at": created,
                "process_attempts": 1,
                "locked_until": None,
                "process_error": None,
                "created_at": created,
            }
        )
        message_id += 1
        result.by_category[category] = result.by_category.get(category, 0) + 1
        result.by_status[status] = result.by_status.get(status, 0) + 1
        result.overdue += overdue
        result.urgent += urgent

    _write(
        engine,
        [
            (Citizen.__table__, citizen_rows),  # type: ignore[list-item]
            (Ticket.__table__, ticket_rows),  # type: ignore[list-item]
            (TicketEvent.__table__, event_rows),  # type: ignore[list-item]
            (Message.__table__, message_rows),  # type: ignore[list-item]
        ],
    )
    result.tickets, result.citizens = len(ticket_rows), len(citizen_rows)
    result.events, result.messages = len(event_rows), len(message_rows)
    result.seconds = clock.perf_counter() - started
    return result


def _chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _write(engine: Engine, tables: Sequence[tuple[Table, Sequence[Any]]]) -> None:
    """Bulk insert in one transaction: ``COPY ... FROM STDIN`` on PostgreSQL, ``executemany`` elsewhere.

    Rows are dicts, or tuples in the table's column order.
    """
    if engine.dialect.name != "postgresql":
        with engine.begin() as conn:
            for table, rows in tables:
                names = [c.name for c in table.columns]
                for chunk in _chunks(rows, BATCH):
                    conn.execute(
                        table.insert(), [r if isinstance(r, dict) else dict(zip(names, r, strict=True)) for r in chunk]
                    )
        return
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        _skip_reference_checks(cursor)
        for table, rows in tables:
            columns = [c.name for c in table.columns]
            json_at = [i for i, c in enumerate(table.columns) if c.type.__class__.__name__ == "JSON"]
            statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for row in rows:
                    values = [row[c] for c in columns] if isinstance(row, dict) else list(row)
                    for i in json_at:
                        values[i] = _json(values[i])
                    copy.write_row(values)
        for table, _ in tables:  # ids were given explicitly: move the sequences past them
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
            )
        raw.commit()
    finally:
        raw.close()


def _skip_reference_checks(cursor: Any) -> None:
    """Skip the per-row foreign-key triggers during the load when the role may (superuser: the ids are consistent by
    construction); otherwise load with the checks, only slower."""
    cursor.execute("SAVEPOINT synth_replica")
    try:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("RELEASE SAVEPOINT synth_replica")
    except Exception:  # insufficient privilege: keep the checks
        cursor.execute("ROLLBACK TO SAVEPOINT synth_replica")


def _json(value: Any) -> str:
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value, ensure_ascii=False)
