"""Inbox search benchmark: p95 of typical list queries on PostgreSQL with 1,000,000 synthetic tickets, for a
central (TW), a province and a commune official, through the same count (up to 10,001) and page as
``GET /api/tickets`` (:func:`backend.services.ticket_query.inbox_page`).

    .venv/bin/python -m tests.bench.bench_search                       # 1,000,000 tickets in gopy_bench_search
    .venv/bin/python -m tests.bench.bench_search --tickets 200000 --db gopy_bench_search_small
    .venv/bin/python -m tests.bench.bench_search --prepare-only        # only build the database

The database is built once with ``gopy dev synth`` (backend/services/synth.py, the real organisation tree) and
reused by later runs when it already holds the tickets. Target (issue #14): p95 ≤ 200 ms per query.
The machine's load average is printed too: on a shared machine the figures depend on it.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from backend.db.migrate import upgrade
from backend.db.models import Official, Ticket
from backend.db.session import make_engine, make_session_factory
from backend.services.synth import synthesize
from backend.services.ticket_query import TicketQuery, inbox_page
from backend.services.units import seed_units
from tests.bench.common import percentile, row

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 200.0


def prepare(admin_url: str, name: str, tickets: int, revision: str) -> Engine:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(admin_url.rsplit("/", 1)[0] + f"/{name}")
    upgrade(engine, revision)
    with make_session_factory(engine)() as session:
        seed_units(session)
        session.commit()
        have = session.scalar(select(func.count()).select_from(Ticket)) or 0
    if have < tickets:
        started = time.perf_counter()
        done = synthesize(engine, tickets - have, seed=14 + have, months=12)
        print(f"synthesised {done.tickets:,} tickets in {time.perf_counter() - started:.0f} s")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE tickets"))
            conn.execute(text("VACUUM ANALYZE ticket_alerts"))
            conn.execute(text("VACUUM ANALYZE org_units"))
    return engine


def _official(username: str, unit: str, role: str) -> Official:
    return Official(username=username, password_hash="-", role=role, unit_code=unit, active=True)


def timed(session: Session, official: Official, query: TicketQuery, runs: int) -> list[float]:
    """Milliseconds of each run: the count (up to 10,001) and the page of 50, as the list use case reads them."""
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        inbox_page(session, official, query, limit=50)
        out.append((time.perf_counter() - started) * 1000)
        session.rollback()
    return out


def run(engine: Engine, runs: int) -> bool:
    with engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(Ticket)) or 0
        busiest = conn.execute(
            text(
                "SELECT u.parent_code, t.unit_code FROM tickets t JOIN org_units u ON u.code = t.unit_code "
                "WHERE u.level = 'commune' GROUP BY u.parent_code, t.unit_code ORDER BY count(*) DESC LIMIT 1"
            )
        ).one()
    province, commune = str(busiest[0]), str(busiest[1])
    officials = {
        "TW (admin)": _official("bench.tw", "TW", "admin"),
        f"province {province} (supervisor)": _official("bench.tinh", province, "supervisor"),
        f"commune {commune} (officer)": _official("bench.xa", commune, "officer"),
    }
    queries: dict[str, Callable[[], TicketQuery]] = {
        "default order": lambda: TicketQuery(),
        "q=ngap sau (text)": lambda: TicketQuery.parse(q="ngap sau"),
        "q=den duong hong (3 words)": lambda: TicketQuery.parse(q="den duong hong"),
        "open + urgent": lambda: TicketQuery.parse(status="moi,da_tiep_nhan,dang_xu_ly", urgent="true"),
        "overdue, by deadline": lambda: TicketQuery.parse(overdue="true", sort="deadline"),
        "category + channel + dates": lambda: TicketQuery.parse(
            category="ha_tang", channel="zalo", date_from="2026-06-01", date_to="2026-09-30"
        ),
        "assignee=me": lambda: TicketQuery.parse(assignee="me"),
        "newest first": lambda: TicketQuery.parse(sort="-created_at"),
        "by deadline": lambda: TicketQuery.parse(sort="deadline"),
        "latest deadline first": lambda: TicketQuery.parse(sort="-deadline"),
        f"unit={commune} (a commune)": lambda: TicketQuery.parse(unit=commune),
        "category, newest first": lambda: TicketQuery.parse(category="moi_truong", sort="-created_at"),
    }
    print(f"\ninbox list queries on PostgreSQL, {total:,} tickets, {runs} runs each (count up to 10,001 + page of 50)")
    print(f"load average (1 min): {os.getloadavg()[0]:.1f}")
    ok = True
    factory = make_session_factory(engine)
    for who, official in officials.items():
        print(f"\n  {who}, load average {os.getloadavg()[0]:.1f}")
        with factory() as session:
            for name, build in queries.items():
                times = timed(session, official, build(), runs)
                p95 = percentile(times, 95)
                verdict = "ok" if p95 <= TARGET_MS else "SLOW"
                ok = ok and p95 <= TARGET_MS
                print(row(f"{name}: p95 (median {percentile(times, 50):.0f} ms)", f"{p95:.0f} ms",
                          f"≤ {TARGET_MS:.0f} ms", verdict))  # fmt: skip
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL admin URL")
    ap.add_argument("--db", default="gopy_bench_search", help="the benchmark database (kept for later runs)")
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--revision", default="head", help="migrate the database to this revision")
    ap.add_argument("--prepare-only", action="store_true")
    args = ap.parse_args()
    engine = prepare(args.pg, args.db, args.tickets, args.revision)
    if not args.prepare_only:
        run(engine, args.runs)
    engine.dispose()


if __name__ == "__main__":
    main()
