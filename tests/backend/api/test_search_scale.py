"""The inbox at scale (issue 14): the official's scope looked up first and written into the query, counts capped at
10,000, two ways of reading a page with one order, and SQLite's FTS5 index of the search key kept in step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, delete, inspect, select, text
from sqlalchemy.orm import Session

from backend.db.migrate import alembic_config, upgrade
from backend.db.models import Citizen, Official, OrgUnit, Ticket, TicketAlert
from backend.db.session import make_engine, make_session_factory
from backend.domain.search import fts_query, search_key
from backend.services import ticket_query as tq
from backend.services import tickets as scope_rules
from backend.services.ticket_query import SORTS, TicketQuery, count_matches, inbox_page, ticket_query
from backend.services.tickets import resolve_scope, scope_clause, unit_subtree, visible_to
from handlers.ports import TicketDraft

from .conftest import UNITS, Api, add_official


def _file(api: Api, text: str, commune: str | None, province: str = "01", **fields: object) -> Ticket:
    with api.container.scope() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == "w-9")).first()
        if citizen is None:
            citizen = Citizen(channel="webchat", platform_user_id="w-9", chat_id="w-9")
            s.add(citizen)
            s.flush()
        draft = TicketDraft(text=text, category="ha_tang", province_code=province, commune_code=commune)
        ticket = api.container.ops.file(s, citizen, draft)
        for name, value in fields.items():
            setattr(ticket, name, value)
        s.commit()
        return ticket


def _official(username: str, unit: str, role: str) -> Official:
    return Official(username=username, password_hash="-", role=role, unit_code=unit, active=True)


OFFICIALS = [
    _official("xa.hk", "00070", "officer"),
    _official("xa.cn", "00073", "officer"),
    _official("tinh.hn", "01", "supervisor"),
    _official("can-bo.hn", "01", "officer"),  # a province's officer: the province's own tickets only
    _official("tinh.hcm", "79", "supervisor"),
    _official("tw.admin", "TW", "admin"),
    _official("tw.officer", "TW", "officer"),
    _official("nowhere", "99999", "supervisor"),  # a unit that does not exist: nothing
]


def _alerted_world(api: Api) -> None:
    """Tickets in every unit, some alerted or escalated to units outside the handling unit's subtree."""
    hk = _file(api, "Ngập ở Hoàn Kiếm", "00070")
    _file(api, "Đèn hỏng ở Cửa Nam", "00073")
    province = _file(api, "Đường tỉnh sụt lún", None)
    saigon = _file(api, "Cây đổ ở Sài Gòn", "26734", "79")
    hcm = _file(api, "Ngập ở Thành phố", None, "79")
    with api.container.scope() as s:
        now = datetime.now(UTC)
        s.add_all(
            [
                TicketAlert(ticket_id=saigon.id, unit_code="00070", kind="alert", created_at=now),  # another province
                TicketAlert(ticket_id=hcm.id, unit_code="01", kind="alert", created_at=now),
                TicketAlert(ticket_id=hcm.id, unit_code="TW", kind="escalation", created_at=now),
                TicketAlert(ticket_id=hk.id, unit_code="01", kind="escalation", created_at=now),  # in scope anyway
                TicketAlert(ticket_id=province.id, unit_code="TW", kind="escalation", created_at=now),
            ]
        )
        s.commit()


def _ids(session: Session, where: object) -> set[int]:
    return set(session.scalars(select(Ticket.id).where(where)))  # type: ignore[arg-type]


@pytest.mark.parametrize("listed_alerts", [2000, 0])  # 0: too many alerted tickets to list, the database finds them
def test_the_resolved_scope_is_the_scope_rule(api: Api, monkeypatch: pytest.MonkeyPatch, listed_alerts: int) -> None:
    """The list's scope (units and alerted tickets looked up first) keeps exactly the tickets ``visible_to`` keeps,
    for every kind of official, and with the unit filter (a unit and its subtree) too."""
    monkeypatch.setattr(scope_rules, "MAX_LISTED_ALERTS", listed_alerts)
    _alerted_world(api)
    with api.container.scope() as s:
        everything = _ids(s, Ticket.id.isnot(None))
        for official in OFFICIALS:
            scope = resolve_scope(s, official)
            expected = _ids(s, visible_to(official))
            assert _ids(s, scope_clause(scope)) == expected, official.username
            if official.username == "tinh.hn":  # two tickets of Hồ Chí Minh City alerted to Hà Nội: listed, or not
                assert [unit for _, unit in scope.alerted or ()] == ([] if listed_alerts == 0 else ["26734", "79"])
                assert (scope.alerted is None) == (listed_alerts == 0)
            for code, *_ in UNITS:
                subtree = frozenset(s.scalars(unit_subtree(code)))
                narrowed = _ids(s, scope_clause(scope, subtree))
                assert narrowed == expected & _ids(s, Ticket.unit_code.in_(subtree)), (official.username, code)
        assert _ids(s, visible_to(OFFICIALS[0])) < everything  # the world does hide tickets from a commune


def test_the_list_query_names_the_scope_instead_of_asking_for_it(api: Api) -> None:
    """A province's list names its units and alerted tickets in the SQL: the planner sees how many tickets they
    hold (a subquery over org_units made PostgreSQL walk the wrong index at a million tickets)."""
    _alerted_world(api)
    with api.container.scope() as s:
        stmt = ticket_query(s, _official("tinh.hn", "01", "supervisor"), TicketQuery.parse(q="ngap", sort="deadline"))
        sql = str(stmt.compile(s.get_bind(), compile_kwargs={"render_postcompile": True}))
        assert "org_units" not in sql and "ticket_alerts" not in sql, sql
        assert all(f"'{code}'" in sql for code in ("01", "00070", "00073")) and "'79'" not in sql
        alerted = s.scalars(select(Ticket.id).where(Ticket.unit_code.in_(["79", "26734"])).order_by(Ticket.id))
        assert f"tickets.id IN ({', '.join(map(str, alerted))})" in sql, sql  # alerted to Hà Nội from elsewhere


def test_counts_stop_after_the_cap(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    add_official(api.container, "xa.hk", "00070")
    for i in range(5):
        _file(api, f"Phản ánh số {i}", "00070")
    headers = api.login("xa.hk")
    with api.container.scope() as s:
        official = s.scalars(select(Official).where(Official.username == "xa.hk")).one()
        stmt = ticket_query(s, official, TicketQuery())
        assert count_matches(s, stmt, cap=2) == 3  # "more than 2"
        assert count_matches(s, stmt, cap=5) == 5
        assert count_matches(s, stmt, cap=10) == 5

    body = api.client.get("/api/tickets", headers=headers).json()
    assert (body["count"], body["count_capped"]) == (5, False)
    monkeypatch.setattr("backend.api.routes.tickets.COUNT_CAP", 4)
    body = api.client.get("/api/tickets", params={"limit": 2}, headers=headers).json()
    assert (body["count"], body["count_capped"], len(body["data"])) == (4, True, 2)  # more than 4

    r = api.client.post("/console/login", data={"username": "xa.hk", "password": "mat-khau-123"})
    assert r.status_code == 200
    assert '<span class="count">(5)</span>' in api.client.get("/console").text
    monkeypatch.setattr("backend.console.routes.COUNT_CAP", 4)
    monkeypatch.setattr("backend.console.routes.PAGE", 2)
    page = api.client.get("/console").text
    assert '<span class="count">(hơn 4)</span>' in page and "Trang 1 / 2" in page  # the pages stop at the cap


def test_both_ways_of_reading_a_page_give_one_order(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Few matches are sorted after the filters found them, many are read along the order's index: the same
    tickets in the same order either way, for every sort, page by page."""
    now = datetime.now(UTC)
    for i in range(7):
        _file(
            api,
            f"Việc {i}",
            "00070",
            urgent=i in (2, 5),
            overdue=i in (1, 5, 6),
            deadline=None if i == 3 else now + timedelta(days=(i * 5) % 7 - 2),
            created_at=now - timedelta(hours=(i * 3) % 7),
        )
    official = _official("xa.hk", "00070", "officer")

    def pages(sort: str) -> list[list[str]]:
        with api.container.scope() as s:
            query = TicketQuery.parse(sort=sort)
            return [[t.code for t in inbox_page(s, official, query, offset=o, limit=3)[0]] for o in (0, 3, 6, 9)]

    for sort in SORTS:
        few = pages(sort)
        with api.container.scope() as s:
            whole = [t.code for t in s.scalars(ticket_query(s, official, TicketQuery.parse(sort=sort)))]
        assert [code for page in few for code in page] == whole, sort
        assert few[3] == []  # past the last ticket: nothing, no query
        with monkeypatch.context() as m:
            m.setattr(tq, "COUNT_CAP", 2)  # "more than 2": read along the order
            assert pages(sort) == few, sort
    with api.container.scope() as s:
        assert inbox_page(s, official, TicketQuery.parse(q="khong co dau"))[1] == 0


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("ngap sau", ["flood"]),
        ("gap", ["flood"]),  # inside a word
        ("ngap sa", ["flood"]),  # a short word with a long one
        ("le loi", ["flood", "lamp"]),  # a two-letter word with a three-letter one
        ("le lo", ["flood", "lamp"]),  # only words shorter than a trigram: no index narrows them down
        ("_", []),
        ("den duong hong", ["lamp"]),
        ("duong loi le", ["flood", "lamp"]),
        ("khong co", []),
    ],
)
def test_search_finds_the_same_on_both_engines(api: Api, q: str, found: list[str]) -> None:
    add_official(api.container, "xa.hk", "00070")
    codes = {
        "flood": _file(api, "Nước ngập sâu ở đường Lê Lợi", "00070").code,
        "lamp": _file(api, "Đèn đường hỏng ở ngõ Lê Lợi", "00070").code,
        "elsewhere": _file(api, "Ngập sâu ở Sài Gòn", "26734", "79").code,
    }
    r = api.client.get("/api/tickets", params={"q": q}, headers=api.login("xa.hk"))
    assert r.status_code == 200, r.text
    assert sorted(t["code"] for t in r.json()["data"]) == sorted(codes[name] for name in found)


def test_fts_query_quotes_words_and_leaves_out_short_ones() -> None:
    assert fts_query(["ngap", "sau", "le", "ngap"]) == '"ngap" AND "sau"'
    assert fts_query(["le", "_"]) is None
    assert fts_query(['a"b"c']) == '"a""b""c"'  # never FTS5 syntax
    assert fts_query([]) is None


# -- SQLite's FTS5 index (migration 0012) --------------------------------------------------------------------


def _sqlite(tmp_path: Path, revision: str = "head") -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'search.db'}")
    upgrade(engine, revision)
    return engine


def _matches(engine: Engine, word: str) -> set[int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT rowid FROM tickets_search WHERE tickets_search MATCH :w"), {"w": f'"{word}"'})
        return {int(r[0]) for r in rows}


def _seed(session: Session) -> Citizen:
    for code, name, level, parent in UNITS:
        session.add(OrgUnit(code=code, name=name, short_name=name, level=level, parent_code=parent))
        session.flush()
    citizen = Citizen(channel="webchat", platform_user_id="w-1", chat_id="w-1")
    session.add(citizen)
    session.flush()
    return citizen


def _ticket(citizen: Citizen, code: str, body: str, place: str | None = None) -> Ticket:
    return Ticket(code=code, citizen_id=citizen.id, channel="webchat", text=body, intent="gui_phan_anh",
                  category="ha_tang", unit_code="00070", location_text=place)  # fmt: skip


def test_sqlite_keeps_the_fts5_index_in_step_and_searches_through_it(tmp_path: Path) -> None:
    engine = _sqlite(tmp_path)
    factory = make_session_factory(engine)
    with factory() as s:
        citizen = _seed(s)
        flood = _ticket(citizen, "PA-AAAA-AAAA", "Nước ngập sâu", "đường Lê Lợi")
        lamp = _ticket(citizen, "PA-BBBB-BBBB", "Đèn đường hỏng")
        s.add_all([flood, lamp])
        s.commit()
        assert _matches(engine, "le loi") == {flood.id} and _matches(engine, "duong") == {flood.id, lamp.id}

        official = _official("xa.hk", "00070", "officer")
        stmt = ticket_query(s, official, TicketQuery.parse(q="ngap le"))
        assert [t.id for t in s.scalars(stmt)] == [flood.id]
        sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row[-1]) for row in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert "VIRTUAL TABLE INDEX" in plan, plan  # the FTS5 index, not a scan of every ticket's text

        flood.text, flood.location_text = "[đã xóa]", None  # erasure of personal data: the index follows
        s.commit()
        assert _matches(engine, "le loi") == set() and _matches(engine, "da xoa") == {flood.id}
        s.execute(delete(Ticket).where(Ticket.id == lamp.id))
        s.commit()
        assert _matches(engine, "duong") == set()
        s.execute(text("INSERT INTO tickets_search(tickets_search) VALUES ('integrity-check')"))  # raises if astray
    engine.dispose()


def test_sqlite_migration_indexes_earlier_tickets_and_goes_back(tmp_path: Path) -> None:
    engine = _sqlite(tmp_path, "0011")
    with make_session_factory(engine)() as s:
        citizen = _seed(s)
        s.commit()
        s.execute(  # the columns of revision 0011, as a ticket filed then was stored
            text(
                "INSERT INTO tickets (code, citizen_id, channel, text, location_text, intent, intent_confidence, "
                "category_confidence, urgent, anonymous, unit_code, routing_rule, routing_reason, status, overdue, "
                "nlu, attachments, created_at, updated_at, search_text) VALUES ('PA-CCCC-CCCC', :citizen, 'webchat', "
                "'Cống tắc', 'ngõ Huế', 'gui_phan_anh', 0, 0, 0, 0, '00070', '', '', 'moi', 0, '{}', '[]', "
                ":now, :now, :key)"
            ),
            {
                "citizen": citizen.id,
                "now": datetime.now(UTC).isoformat(),
                "key": search_key("PA-CCCC-CCCC", "Cống tắc", "ngõ Huế"),
            },
        )
        s.commit()
    upgrade(engine)
    assert len(_matches(engine, "cong tac")) == 1 and len(_matches(engine, "ngo hue")) == 1
    names = set(inspect(engine).get_table_names())
    assert "tickets_search" in names

    command.downgrade(alembic_config(engine), "0011")
    inspector = inspect(engine)
    assert "tickets_search" not in inspector.get_table_names()
    assert "ix_tickets_inbox_order" in {i["name"] for i in inspector.get_indexes("tickets")}
    with engine.begin() as conn:
        triggers = conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).all()
        assert not [t for t in triggers if t.startswith("tickets_search")]
    upgrade(engine)
    assert len(_matches(engine, "cong tac")) == 1
    engine.dispose()
