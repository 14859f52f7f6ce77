"""The retention job (GOPY_RETENTION_MONTHS): closed tickets' personal data expires; statistics stay.

One pass is run directly with a fixed "now", on SQLite and on real PostgreSQL + Redis.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.db.migrate import upgrade
from backend.db.models import AuditLog, Citizen, Message, OrgUnit, OutboxItem, Ticket, TicketEvent
from backend.db.session import make_engine, make_session_factory
from backend.domain import statuses as st
from backend.kv import KV, make_kv
from backend.services.privacy import ERASED_TEXT, months_before
from backend.services.state import RedisStateStore
from backend.workers.retention import RetentionWorker
from backend.workers.runner import WORKERS
from handlers.ports import CitizenRef
from handlers.state import state_key

NOW = datetime(2029, 3, 31, 10, 0, tzinfo=UTC)  # 24 months earlier: 2027-03-31 10:00 UTC
LONG_AGO = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # closed 25 months before NOW: expired
RECENTLY = datetime(2027, 6, 1, 8, 0, tzinfo=UTC)  # closed 22 months before NOW: kept


@dataclass
class Db:
    factory: sessionmaker[Session]
    kv: KV

    @contextmanager
    def scope(self) -> Iterator[Session]:
        s = self.factory()
        try:
            yield s
        finally:
            s.rollback()
            s.close()

    def worker(self, months: int = 24) -> RetentionWorker:
        return RetentionWorker(self.scope, RedisStateStore(self.kv), months)


@pytest.fixture
def db(backend_urls: tuple[str, str], redis_prefix: str) -> Iterator[Db]:
    engine = make_engine(backend_urls[0])
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        s.add(OrgUnit(code="TW", name="Trung ương", short_name="TW", level="central"))
        s.flush()
        s.add(OrgUnit(code="01", name="Hà Nội", short_name="Hà Nội", level="province", parent_code="TW"))
        s.commit()
    kv = make_kv(backend_urls[1], redis_prefix)
    yield Db(factory, kv)
    kv.close()
    engine.dispose()


def citizen(s: Session, user: str, name: str, phone: str, last_inbound: datetime) -> Citizen:
    row = Citizen(
        channel="telegram",
        platform_user_id=user,
        chat_id=user,
        display_name=name,
        phone=phone,
        consent="named",
        consent_at=last_inbound - timedelta(days=400),
        last_inbound_at=last_inbound,
        created_at=last_inbound - timedelta(days=400),
    )
    s.add(row)
    s.flush()
    return row


def ticket(s: Session, who: Citizen, text: str, status: str, closed_at: datetime | None, **extra: Any) -> Ticket:
    created = (closed_at or NOW) - timedelta(days=30)
    row = Ticket(
        code=f"PA-TEST-{s.scalar(select(func.count()).select_from(Ticket)) or 0:04d}",
        citizen_id=who.id,
        channel="telegram",
        text=text,
        intent="gui_phan_anh",
        category="ha_tang",
        location_text="ngõ 5 phố Huế",
        province_code="01",
        latitude=21.01,
        longitude=105.85,
        phone=who.phone,
        unit_code="01",
        status=status,
        rating=4 if status == st.DA_DONG else None,
        rating_comment="cán bộ nhiệt tình" if status == st.DA_DONG else None,
        attachments=[{"kind": "photo", "url": "https://f.example/x.jpg", "platform_file_id": "F1"}],
        nlu={"text": text, "model": "m1", "entities": [{"entity": "phone", "value": who.phone}]},
        deadline=created + timedelta(days=10),
        created_at=created,
        updated_at=closed_at or created,
        **extra,
    )
    s.add(row)
    s.flush()
    s.add(TicketEvent(ticket_id=row.id, kind="created", actor_type="citizen", actor_id=str(who.id), created_at=created))
    s.add(
        TicketEvent(
            ticket_id=row.id,
            kind="info",
            actor_type="citizen",
            actor_id=str(who.id),
            note=f"bổ sung: {text}",
            data={"geo": {"latitude": 21.01, "longitude": 105.85}},
            created_at=created + timedelta(days=1),
        )
    )
    if closed_at is not None:
        s.add(
            TicketEvent(
                ticket_id=row.id,
                kind="status",
                actor_type="official",
                actor_id="canbo",
                old_status=st.DA_TRA_LOI,
                new_status=status,
                note=f"Đã trả lời ông/bà {who.display_name}",
                created_at=closed_at,
            )
        )
    for direction, body in (("in", text), ("out", f"Xin kiểm tra lại phản ánh: {text}")):
        s.add(
            Message(
                channel="telegram",
                direction=direction,
                platform_message_id=f"{who.platform_user_id}:{row.id}:{direction}",
                citizen_id=who.id,
                ticket_id=row.id,
                draft_id=f"d{row.id}",
                text=body,
                data={"text": body, "user_id": who.platform_user_id},
                processed_at=created,
                created_at=created,
            )
        )
    s.add(
        OutboxItem(
            channel="telegram",
            chat_id=who.chat_id,
            citizen_id=who.id,
            ticket_id=row.id,
            text=f"Trả lời về phản ánh {row.code}: {text}",
            status="sent",
            created_at=closed_at or created,
        )
    )
    return row


def world(db: Db) -> dict[str, Any]:
    with db.scope() as s:
        an = citizen(s, "tg-an", "Lê Văn An", "0987654321", last_inbound=datetime(2028, 11, 2, tzinfo=UTC))
        bich = citizen(s, "tg-bich", "Phạm Thị Bích", "0911222333", last_inbound=LONG_AGO)
        cuong = citizen(s, "tg-cuong", "Đỗ Mạnh Cường", "0933444555", last_inbound=RECENTLY)
        ids = {
            # closed long ago, but rated later: the closing counts, not the last change
            "an_closed": ticket(s, an, "Cống vỡ trước nhà an", st.DA_DONG, LONG_AGO).id,
            "an_open": ticket(s, an, "Đèn đường hỏng nhà an", st.DANG_XU_LY, None).id,
            "bich_rejected": ticket(s, bich, "Rác ùn ứ nhà bích", st.TU_CHOI, LONG_AGO - timedelta(days=40)).id,
            "cuong_recent": ticket(s, cuong, "Ngập sâu nhà cường", st.DA_DONG, RECENTLY).id,
        }
        s.get(Ticket, ids["an_closed"]).updated_at = datetime(2028, 5, 1, tzinfo=UTC)  # type: ignore[union-attr]
        # Bích's chit-chat, linked to no ticket
        s.add(
            Message(
                channel="telegram",
                direction="in",
                platform_message_id="tg-bich:chat",
                citizen_id=bich.id,
                text="chào bích đây",
                data={"text": "chào bích đây"},
                processed_at=LONG_AGO,
                created_at=LONG_AGO,
            )
        )
        s.commit()
        ids["an"], ids["bich"], ids["cuong"] = an.id, bich.id, cuong.id
    for user in ("tg-an", "tg-bich"):
        db.kv.sync.set(db.kv.key("state", state_key(CitizenRef(0, "telegram", user))), json.dumps({"name": "idle"}))
    return ids


def stats(db: Db) -> list[Any]:
    with db.scope() as s:
        return [
            sorted(
                s.execute(
                    select(Ticket.category, Ticket.status, Ticket.unit_code, func.count()).group_by(
                        Ticket.category, Ticket.status, Ticket.unit_code
                    )
                ).all()
            ),
            list(s.execute(select(Ticket.id, Ticket.rating, Ticket.deadline, Ticket.created_at).order_by(Ticket.id))),
            sorted(s.execute(select(TicketEvent.kind, func.count()).group_by(TicketEvent.kind)).all()),
        ]


def test_closed_tickets_expire_after_the_retention_period(db: Db) -> None:
    ids = world(db)
    before = stats(db)

    done = db.worker(24).run_once(NOW)

    with db.scope() as s:
        codes = {t.id: t.code for t in s.scalars(select(Ticket)).unique()}
        assert sorted(done.tickets) == sorted([codes[ids["an_closed"]], codes[ids["bich_rejected"]]])
        assert done.citizens == [ids["bich"]]
        for key in ("an_closed", "bich_rejected"):
            t = s.get(Ticket, ids[key])
            assert t is not None and t.personal_data_erased_at == NOW
            assert (t.text, t.location_text, t.latitude, t.phone, t.attachments, t.rating_comment) == (
                ERASED_TEXT,
                None,
                None,
                None,
                [],
                None,
            )
            assert t.nlu == {"model": "m1"}
            assert t.province_code == "01" and t.category == "ha_tang"  # statistics keep place and field
            msgs = list(s.scalars(select(Message).where(Message.ticket_id == t.id)))
            assert len(msgs) == 2 and {m.text for m in msgs} == {""}
            assert all("tg-" not in (m.platform_message_id or "") for m in msgs)
            box = s.scalars(select(OutboxItem).where(OutboxItem.ticket_id == t.id)).one()
            assert (box.text, box.chat_id) == ("", "")
            notes = [e.note for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id))]
            assert not any(n and ("bổ sung" in n or "Văn An" in n or "Thị Bích" in n) for n in notes)
        for key in ("an_open", "cuong_recent"):
            t = s.get(Ticket, ids[key])
            assert t is not None and t.personal_data_erased_at is None and "nhà" in t.text and t.phone
            assert {m.text != "" for m in s.scalars(select(Message).where(Message.ticket_id == t.id))} == {True}
        an = s.get(Citizen, ids["an"])
        assert an is not None  # An still has an open ticket: keeps the chat identity
        assert (an.platform_user_id, an.display_name, an.phone, an.erased_at) == (
            "tg-an",
            "Lê Văn An",
            "0987654321",
            None,
        )
        bich = s.get(Citizen, ids["bich"])
        assert bich is not None and bich.erased_at == NOW and bich.platform_user_id.startswith("erased:")
        assert (bich.display_name, bich.phone, bich.chat_id) == (None, None, "")
        chat = s.scalars(
            select(Message).where(Message.platform_message_id.like("erased:%"), Message.ticket_id.is_(None))
        )
        assert [m.text for m in chat] == [""]
        assert not s.scalars(select(Message).where(Message.text.like("%bích%"))).all()
        cuong = s.get(Citizen, ids["cuong"])
        assert cuong is not None and cuong.erased_at is None
        audits = list(s.scalars(select(AuditLog).where(AuditLog.action == "retention_erase")))
        assert {(a.actor, a.object_type) for a in audits} == {
            ("system:retention", "ticket"),
            ("system:retention", "citizen"),
        }
        assert sorted(a.object_id for a in audits if a.object_type == "ticket") == sorted(done.tickets)
    assert (
        db.kv.sync.get(db.kv.key("state", "conv:telegram:tg-bich")) is None
    )  # the erased person's conversation is gone
    assert db.kv.sync.get(db.kv.key("state", "conv:telegram:tg-an")) is not None
    assert stats(db) == before

    again = db.worker(24).run_once(NOW)  # idempotent
    assert (again.tickets, again.citizens) == ([], [])
    assert stats(db) == before


def test_each_ticket_expires_on_its_own_date(db: Db) -> None:
    ids = world(db)
    with db.scope() as s:
        codes = {t.id: t.code for t in s.scalars(select(Ticket)).unique()}
    early = db.worker(24).run_once(datetime(2029, 2, 28, 10, 0, tzinfo=UTC))  # cutoff 2027-02-28
    assert early.tickets == [codes[ids["bich_rejected"]]]  # rejected 2027-01-20; An's closed 2027-03-01
    assert early.citizens == []  # Bích last wrote 2027-03-01: still within the period
    assert db.worker(120).run_once(NOW).tickets == []  # a longer period: nothing more is due
    later = db.worker(24).run_once(NOW)
    assert later.tickets == [codes[ids["an_closed"]]] and later.citizens == [ids["bich"]]


def test_two_workers_erase_each_ticket_once(db: Db) -> None:
    world(db)
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(db.worker(24).run_once(NOW))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    erased = [code for r in results for code in r.tickets]
    assert len(results) == 2 and len(erased) == 2 and len(set(erased)) == 2
    with db.scope() as s:
        audited = select(func.count()).where(AuditLog.action == "retention_erase", AuditLog.object_type == "ticket")
        assert s.scalar(audited) == 2


def test_months_are_calendar_months() -> None:
    assert months_before(NOW, 24) == datetime(2027, 3, 31, 10, 0, tzinfo=UTC)
    assert months_before(NOW, 1) == datetime(2029, 2, 28, 10, 0, tzinfo=UTC)
    assert months_before(datetime(2028, 2, 29, tzinfo=UTC), 12) == datetime(2027, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2029, 1, 15, tzinfo=UTC), 25) == datetime(2026, 12, 15, tzinfo=UTC)


def test_the_worker_runs_under_the_supervisor() -> None:
    assert "retention" in dict(WORKERS)
