"""Ticket filing, routing, visibility, lifecycle, escalation and duplicates on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.config import PROJECT_ROOT
from backend.db.migrate import upgrade
from backend.db.models import Citizen, Official, OrgUnit, OutboxItem, Ticket, TicketAlert, TicketEvent, utcnow
from backend.db.session import make_engine, make_session_factory
from backend.domain import statuses as st
from backend.domain.routing import Router, load_rules
from backend.domain.sla import load_sla
from backend.services.notify import Notifier
from backend.services.tickets import TicketNotFound, TicketOps
from handlers.ports import TicketDraft

UNITS = [
    ("TW", "Ủy ban Trung ương MTTQ Việt Nam", "central", None),
    ("01", "Thành phố Hà Nội", "province", "TW"),
    ("00070", "Phường Hoàn Kiếm", "commune", "01"),
    ("00073", "Phường Cửa Nam", "commune", "01"),
    ("79", "Thành phố Hồ Chí Minh", "province", "TW"),
    ("26734", "Phường Sài Gòn", "commune", "79"),
]


class RecordingTexts:
    """Renders every template as its key and arguments, so tests can check what the citizen is told."""

    def render(self, key: str, /, **kw: object) -> str:
        return key + "|" + "|".join(f"{k}={v}" for k, v in sorted(kw.items()))

    def status_name(self, code: str) -> str:
        return f"<{code}>"


@dataclass
class World:
    factory: sessionmaker[Session]
    ops: TicketOps

    def session(self) -> Session:
        return self.factory()

    def official(self, session: Session, username: str, unit: str, role: str = "officer") -> Official:
        official = Official(username=username, password_hash="x", role=role, unit_code=unit)
        session.add(official)
        session.flush()
        return official

    def citizen(self, session: Session, user: str = "u1") -> Citizen:
        citizen = Citizen(channel="webchat", platform_user_id=user, chat_id=user)
        session.add(citizen)
        session.flush()
        return citizen


@pytest.fixture
def world(backend_urls: tuple[str, str]) -> Iterator[World]:
    engine = make_engine(backend_urls[0])
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        for code, name, level, parent in UNITS:
            session.add(OrgUnit(code=code, name=name, short_name=name, level=level, parent_code=parent))
            session.flush()
        session.commit()
    units = {code: (name, parent) for code, name, _level, parent in UNITS}
    router = Router(
        load_rules(PROJECT_ROOT / "data" / "routing.yml"),
        parent_of=lambda c: units.get(c, ("", None))[1],
        name_of=lambda c: units.get(c, (c, None))[0],
    )
    ops = TicketOps(router, Notifier(RecordingTexts()), load_sla(PROJECT_ROOT / "data" / "routing.yml"))
    yield World(factory, ops)
    engine.dispose()


def draft(
    text: str = "Đường ngập",
    category: str = "ha_tang",
    province: str | None = "01",
    commune: str | None = "00070",
    urgent: bool = False,
) -> TicketDraft:
    return TicketDraft(
        text=text,
        category=category,
        category_confidence=0.9,
        province_code=province,
        commune_code=commune,
        urgent=urgent,
    )


def test_filing_routes_and_sets_deadlines(world: World) -> None:
    with world.session() as s:
        ticket = world.ops.file(s, world.citizen(s), draft())
        s.commit()
        assert ticket.code.startswith("PA-") and len(ticket.code) == 12
        assert (ticket.unit_code, ticket.routing_rule, ticket.status) == ("00070", "cap_xa", "moi")
        assert "Phường Hoàn Kiếm" in ticket.routing_reason
        assert ticket.accept_deadline and ticket.deadline and ticket.accept_deadline < ticket.deadline
        kinds = [e.kind for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
        assert kinds == ["created", "routed"]


def test_emergency_alerts_the_province(world: World) -> None:
    with world.session() as s:
        ticket = world.ops.file(s, world.citizen(s), draft("Nước lũ đang lên", "thien_tai_khan_cap", urgent=True))
        hanoi = world.official(s, "tinh.hn", "01")
        hcm = world.official(s, "tinh.hcm", "79")
        s.commit()
        assert ticket.unit_code == "00070"
        assert ticket.accept_deadline is not None
        assert ticket.accept_deadline - ticket.created_at == timedelta(hours=4)
        assert [a.unit_code for a in s.scalars(select(TicketAlert))] == ["01"]
        assert [t.code for t in world.ops.list_for(s, hanoi)[0]] == [ticket.code]
        assert world.ops.list_for(s, hcm) == ([], 0)
        assert world.ops.visible(s, hanoi, ticket.code).id == ticket.id


def test_visibility_by_unit_and_role(world: World) -> None:
    with world.session() as s:
        ticket = world.ops.file(s, world.citizen(s), draft())
        own = world.official(s, "xa.hk", "00070")
        neighbour = world.official(s, "xa.cn", "00073")
        province_officer = world.official(s, "tinh.cb", "01")
        province_supervisor = world.official(s, "tinh.ld", "01", "supervisor")
        central_admin = world.official(s, "tw.admin", "TW", "admin")
        s.commit()
        for who in (own, province_supervisor, central_admin):
            assert world.ops.visible(s, who, ticket.code.lower()).id == ticket.id
            assert world.ops.list_for(s, who)[1] == 1
        for who in (neighbour, province_officer):
            with pytest.raises(TicketNotFound):
                world.ops.visible(s, who, ticket.code)
            assert world.ops.list_for(s, who)[1] == 0


def test_reply_notifies_accepts_and_opens_handoff(world: World) -> None:
    with world.session() as s:
        ticket = world.ops.file(s, world.citizen(s), draft())
        official = world.official(s, "xa.hk", "00070")
        world.ops.reply(s, official, ticket, "Chúng tôi đã cử cán bộ xuống kiểm tra.")
        s.commit()
        assert ticket.status == st.DA_TIEP_NHAN
        assert ticket.handoff_until is not None and ticket.handoff_until > utcnow()
        (item,) = s.scalars(select(OutboxItem))
        assert item.text.startswith("notify_reply|")
        assert "Chúng tôi đã cử cán bộ" in item.text and ticket.code in item.text
        assert (item.channel, item.chat_id, item.author) == ("webchat", "u1", "Phường Hoàn Kiếm")  # the unit speaks
        assert "xa.hk" not in item.text  # the official's login name stays in the ticket's events
        assert [e.actor_id for e in s.scalars(select(TicketEvent).where(TicketEvent.kind == "reply"))] == ["xa.hk"]


def test_status_changes_are_recorded_and_pushed(world: World) -> None:
    with world.session() as s:
        ticket = world.ops.file(s, world.citizen(s), draft())
        official = world.official(s, "xa.hk", "00070")
        world.ops.change_status(s, official, ticket, st.DANG_XU_LY, None)
        world.ops.change_status(s, official, ticket, st.DA_CHUYEN, "Chuyển Công ty Thoát nước Hà Nội")
        s.commit()
        texts = [i.text for i in s.scalars(select(OutboxItem).order_by(OutboxItem.id))]
        assert [t.split("|")[0] for t in texts] == ["notify_status_dang_xu_ly", "notify_status_da_chuyen"]
        assert "Công ty Thoát nước" in texts[1]
        events = list(s.scalars(select(TicketEvent).where(TicketEvent.kind == "status").order_by(TicketEvent.id)))
        assert [(e.old_status, e.new_status, e.actor_id) for e in events] == [
            ("moi", "dang_xu_ly", "xa.hk"),
            ("dang_xu_ly", "da_chuyen", "xa.hk"),
        ]


def test_illegal_transition_changes_nothing(world: World) -> None:
    with world.session() as s:
        ticket = world.ops.file(s, world.citizen(s), draft())
        official = world.official(s, "xa.hk", "00070")
        s.commit()
        with pytest.raises(st.TransitionError):
            world.ops.change_status(s, official, ticket, st.DA_DONG, None)
        with pytest.raises(st.TransitionError, match="needs a note"):
            world.ops.change_status(s, official, ticket, st.TU_CHOI, "")
        s.commit()
        assert ticket.status == st.MOI
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 0


def test_reassign_tells_the_citizen(world: World) -> None:
    with world.session() as s:
        ticket = world.ops.file(s, world.citizen(s), draft())
        official = world.official(s, "tinh.ld", "01", "supervisor")
        with pytest.raises(st.TransitionError, match="unknown unit"):
            world.ops.reassign(s, official, ticket, "99999", "sai địa bàn")
        world.ops.reassign(s, official, ticket, "00073", "Sự việc thuộc địa bàn phường Cửa Nam")
        s.commit()
        assert ticket.unit_code == "00073" and ticket.unit.name == "Phường Cửa Nam"
        (item,) = s.scalars(select(OutboxItem))
        assert item.text.startswith("notify_reassigned|") and "Phường Cửa Nam" in item.text


def test_overdue_escalates_exactly_once_with_concurrent_schedulers(world: World) -> None:
    with world.session() as s:
        ticket = world.ops.file(s, world.citizen(s), draft())
        ticket.accept_deadline = utcnow() - timedelta(hours=1)
        s.commit()
        ticket_id = ticket.id
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def scheduler() -> None:
        barrier.wait()
        with world.session() as s:
            results.append(world.ops.escalate_overdue(s, ticket_id))

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    with world.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None and ticket.overdue and ticket.escalated_to == "01"
        assert [(a.unit_code, a.kind) for a in s.scalars(select(TicketAlert))] == [("01", "escalation")]
        notes = [i.text for i in s.scalars(select(OutboxItem))]
        assert len(notes) == 1 and notes[0].startswith("notify_escalated|")
        province = world.official(s, "tinh.cb", "01")
        assert world.ops.visible(s, province, ticket.code).id == ticket_id  # both units see it


def test_twenty_reports_of_one_flooded_road_form_one_cluster(world: World) -> None:
    reports = [  # one matter re-posted by many people: with or without diacritics, a greeting, another time
        "Đường Hàng Bài đoạn trước số 20 ngập sâu, xe máy chết máy",
        "duong hang bai ngap qua, xe may chet may hang loat",
        "Kính gửi Mặt trận phường, đường Hàng Bài đoạn trước số 20 ngập sâu từ sáng, xe máy chết máy",
        "duong hang bai doan truoc so 20 ngap sau, xe may chet may, de nghi xu ly",
        "Đường Hàng Bài ngập sâu cả tối qua, xe máy chết máy hàng loạt",
    ]
    with world.session() as s:
        codes = []
        for i in range(20):
            citizen = world.citizen(s, f"c{i}")
            text = reports[i % len(reports)] + (f" (lần {i})" if i >= len(reports) else "")
            codes.append(world.ops.file(s, citizen, draft(text)).code)
        other = world.ops.file(s, world.citizen(s, "other"), draft("Đèn đường phố Tràng Tiền hỏng cả tuần"))
        # the same words about another street are another matter
        elsewhere = world.ops.file(
            s, world.citizen(s, "elsewhere"), draft("Đường Lê Lợi đoạn trước số 20 ngập sâu, xe máy chết máy")
        )
        s.commit()
        root = s.scalars(select(Ticket).where(Ticket.code == codes[0])).one()
        commune = world.official(s, "xa.hk", "00070")
        cluster = world.ops.visible_cluster(s, commune, root)
        assert {t.code for t in cluster} == set(codes)
        assert other.duplicate_of is None and elsewhere.duplicate_of is None
        assert world.ops.visible_cluster(s, commune, other) == [other]


def test_scheduler_picks_only_overdue_open_tickets(world: World) -> None:
    from contextlib import contextmanager

    from backend.workers.sla import SlaWorker

    past = utcnow() - timedelta(minutes=5)
    with world.session() as s:
        c = world.citizen(s)
        late_accept = world.ops.file(s, c, draft("a"))
        late_accept.accept_deadline = past
        late_answer = world.ops.file(s, c, draft("b", commune="00073"))
        late_answer.status, late_answer.deadline = st.DANG_XU_LY, past
        closed = world.ops.file(s, c, draft("c"))
        closed.status, closed.deadline, closed.accept_deadline = st.DA_DONG, past, past
        accepted_in_time = world.ops.file(s, c, draft("d"))
        accepted_in_time.status, accepted_in_time.accept_deadline = (
            st.DA_TIEP_NHAN,
            past,
        )  # accepted: only answer counts
        s.commit()
        expected = {late_accept.id, late_answer.id}

    @contextmanager
    def scope() -> Iterator[Session]:
        with world.session() as s:
            yield s

    worker = SlaWorker(scope, world.ops)
    assert worker.run_once() == 2
    assert worker.run_once() == 0  # exactly once
    with world.session() as s:
        assert {t.id for t in s.scalars(select(Ticket).where(Ticket.overdue.is_(True)))} == expected
