"""Reports at scale (issue #13): a PostgreSQL database of 1,000,000 synthetic tickets, then the figures beside their
targets — summary p95 at TW, province and commune level, an XLSX export of 100,000 rows (time and memory), a
province-month DOCX, and `gopy dev synth` of 200,000 tickets.

    .venv/bin/python -m tests.bench.bench_reports                 # fills gopy_bench_reports once (it takes minutes)
    .venv/bin/python -m tests.bench.bench_reports --skip-synth    # without the 200,000-ticket synth run
    .venv/bin/python -m tests.bench.bench_reports --only-export   # only the XLSX (and CSV) export of 100,000 rows
    .venv/bin/python -m tests.bench.bench_reports --rebuild       # drop and fill the database again

The database is reused when it holds the right number of tickets and the current schema. The summaries run as the
API runs them (``reports.summarize`` with the official, topics included), after the roll-ups worker's pass (daily
roll-ups up to date, topics of the last 30 days computed ahead for TW and the provinces, as in production). The
machine is shared: its load average is printed beside the figures, which depend on it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, inspect, select, text

from backend.db.migrate import current_revision, upgrade
from backend.db.models import Base, Official, OrgUnit, Ticket
from backend.db.session import make_engine, make_session_factory
from backend.domain.routing import CENTRAL
from backend.services import exports, report_files, reports, rollups
from backend.services.synth import synthesize
from backend.services.units import seed_units
from tests.bench.common import percentile, row

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NAME = "gopy_bench_reports"
TICKETS = 1_000_000
CHUNK = 200_000
SUMMARY_P95_MS = 300.0
XLSX_ROWS, XLSX_SECONDS = 100_000, 30.0
DOCX_SECONDS = 10.0


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} CPUs"


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _schema_current(url: str, name: str) -> bool:
    engine = make_engine(url)
    try:
        from alembic.script import ScriptDirectory

        from backend.db.migrate import alembic_config

        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        if current_revision(engine) != head:
            upgrade(engine)  # later migrations (new indexes, tables) apply to the filled database
        columns = {c["name"] for c in inspect(engine).get_columns("tickets")}
        return columns >= set(Base.metadata.tables["tickets"].columns.keys())
    except Exception as exc:
        print(f"  cannot reuse {name}: {exc}")
        return False
    finally:
        engine.dispose()


def database(admin_url: str, name: str, tickets: int, rebuild: bool) -> str:
    """The URL of the filled database: reused if it holds ``tickets`` tickets and the current schema."""
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is not None
    count = 0
    if exists and not rebuild and _schema_current(url, name):
        engine = make_engine(url)
        with engine.connect() as conn:
            count = conn.scalar(select(func.count()).select_from(Ticket)) or 0
        engine.dispose()
    if count == tickets:
        print(f"  reusing {name}: {count:,} tickets")
        admin.dispose()
        return url
    print(f"  filling {name} with {tickets:,} tickets ({load()}) ...", flush=True)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        seed_units(session)
        session.commit()
    done = 0
    while done < tickets:
        n = min(CHUNK, tickets - done)
        result = synthesize(engine, n, seed=100 + done // CHUNK, months=12)
        done += n
        print(f"    {done:,} tickets ({result.seconds:.0f} s for {n:,}; {load()})", flush=True)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    engine.dispose()
    return url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=ADMIN, help="PostgreSQL admin URL")
    ap.add_argument("--tickets", type=int, default=TICKETS)
    ap.add_argument("--name", default=NAME, help="the database's name")
    ap.add_argument("--rebuild", action="store_true", help="drop and fill the database again")
    ap.add_argument("--runs", type=int, default=20, help="summaries per level")
    ap.add_argument("--skip-synth", action="store_true", help="skip the 200,000-ticket synth benchmark")
    ap.add_argument("--only-export", action="store_true", help="only the XLSX/CSV export (on the filled database)")
    args = ap.parse_args()
    print(f"\nReports at scale on PostgreSQL ({load()})")
    url = database(args.pg, args.name, args.tickets, args.rebuild)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    if args.only_export:
        export_xlsx(factory)
        engine.dispose()
        return

    # the roll-ups worker's pass: roll-ups up to date, topics of the last 30 days ahead for TW and the provinces
    with factory() as session:
        started = time.perf_counter()
        result = rollups.refresh(session)
        took = time.perf_counter() - started
        what = "rebuilt" if result.rebuilt else "updated"
        print(row(f"roll-ups {what} ({result.days:,} days, {result.rows:,} rows)", f"{took:.1f} s", "", load()))
        provinces = list(session.scalars(select(OrgUnit.code).where(OrgUnit.level == "province")))
        started = time.perf_counter()
        computed = reports.precompute_topics(session, [CENTRAL, *provinces])
        took = time.perf_counter() - started
        print(row(f"topics computed ahead ({computed} of {len(provinces) + 1} units)", f"{took:.1f} s"))
        busiest = session.execute(
            select(OrgUnit.parent_code, func.count())
            .join(Ticket, Ticket.unit_code == OrgUnit.code)
            .where(OrgUnit.level == "commune")
            .group_by(OrgUnit.parent_code)
            .order_by(func.count().desc())
            .limit(1)
        ).one()[0]
        assert busiest is not None
        communes = list(session.scalars(select(OrgUnit.code).where(OrgUnit.parent_code == busiest)))

    summaries(factory, provinces, busiest, communes, args.runs)
    export_xlsx(factory)
    docx(factory, busiest)
    engine.dispose()
    if not args.skip_synth:
        synth_200k()


def _official(unit: str) -> Official:
    """An unsaved supervisor of the unit (the summary reads only its unit and role)."""
    return Official(username=f"bench.{unit}", password_hash="-", role="supervisor", unit_code=unit)


def summaries(factory: Any, provinces: list[str], busiest: str, communes: list[str], runs: int) -> None:
    rng = random.Random(13)
    end = reports.today_vn()
    start = end - timedelta(days=reports.DEFAULT_DAYS - 1)
    levels: dict[str, Callable[[], str]] = {
        "TW": lambda: CENTRAL,
        "TW, shared cache emptied": lambda: CENTRAL,  # every asker pays the roll-ups' aggregation
        "province": lambda: rng.choice(provinces),
        "commune": lambda: rng.choice(communes),
    }
    for level, pick in levels.items():
        times: list[float] = []
        total = 0
        for i in range(runs + 1):
            unit = pick() if level != "province" or i else busiest
            if "emptied" in level:
                reports._rolled_cache.clear()
            with factory() as session:
                official = _official(unit)
                started = time.perf_counter()
                s = reports.summarize(session, unit, start, end, official=official)
                elapsed = (time.perf_counter() - started) * 1000
                session.commit()  # topics computed on demand are kept, as the API keeps them
            total = max(total, s.total)
            if i:  # the first run warms the connection pool and the caches
                times.append(elapsed)
        p95 = percentile(times, 95)
        verdict = "ok" if p95 <= SUMMARY_P95_MS else "SLOW"
        name = f"summary p95, {level} (30 days, up to {total:,} tickets, {runs} runs)"
        print(row(name, f"{p95:.0f} ms", f"<= {SUMMARY_P95_MS:.0f} ms", f"{verdict} ({load()})"))
        print(row(f"  median / max, {level}", f"{percentile(times, 50):.0f} / {max(times):.0f} ms"))


def export_xlsx(factory: Any) -> None:
    """The first 100,000 rows (newest first) of a central admin's export, as GET /api/tickets/export streams them:
    XLSX against its target (time, time to the first bytes, memory), then CSV of the same rows for comparison."""
    with factory() as session:
        admin = session.scalars(select(Official).where(Official.username == "bench.admin")).first()
        if admin is None:
            admin = Official(username="bench.admin", password_hash="-", role="admin", unit_code=CENTRAL)
            session.add(admin)
            session.commit()
        admin_id = admin.id

    def scope() -> Any:
        return factory()

    Writer = Callable[[Iterator[dict[str, Any]], bool], Iterator[bytes]]

    def run(chunks: Writer) -> tuple[float, float, int, dict[int, float]]:
        rss: dict[int, float] = {}

        def counted(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            for n, record in enumerate(records, start=1):
                if n in (10_000, XLSX_ROWS):
                    rss[n] = rss_mb()
                yield record

        started = time.perf_counter()
        first = 0.0
        size = 0
        records = itertools.islice(exports.iter_records(scope, admin_id, exports.ExportFilter()), XLSX_ROWS)
        for chunk in chunks(counted(records), False):
            first = first or time.perf_counter() - started
            size += len(chunk)
        return time.perf_counter() - started, first, size, rss

    took, first, size, rss = run(exports.xlsx_chunks)
    verdict = "ok" if took <= XLSX_SECONDS else "SLOW"
    print(row(f"XLSX export, {XLSX_ROWS:,} rows ({size / 2**20:.1f} MB)", f"{took:.1f} s", f"<= {XLSX_SECONDS:.0f} s",
              f"{verdict} ({load()})"))  # fmt: skip
    print(row("  first bytes sent after", f"{first:.2f} s"))
    growth = rss.get(XLSX_ROWS, 0) - rss.get(10_000, 0)
    flat = "ok" if growth < 50 else "GROWS"
    print(row("  memory (RSS) at 10,000 / 100,000 rows", f"{rss.get(10_000, 0):.0f} / {rss.get(XLSX_ROWS, 0):.0f} MB",
              "flat (< 50 MB growth)", flat))  # fmt: skip
    print(
        row(
            "  peak RSS of the benchmark process", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
    )
    took, first, size, rss = run(exports.csv_chunks)
    print(row(f"  CSV export of the same rows ({size / 2**20:.1f} MB)", f"{took:.1f} s", "", load()))
    growth = rss.get(XLSX_ROWS, 0) - rss.get(10_000, 0)
    print(row("  CSV memory growth from 10,000 to 100,000 rows", f"{growth:.0f} MB", "flat (< 50 MB growth)",
              "ok" if growth < 50 else "GROWS"))  # fmt: skip


def docx(factory: Any, province: str) -> None:
    today = reports.today_vn()
    last_month = (date(today.year, today.month, 1) - timedelta(days=1)).strftime("%Y-%m")
    period = report_files.Period.month(last_month)
    with factory() as session:
        started = time.perf_counter()
        data = report_files.gather(session, factory, province, period, lambda code: code)
        content = report_files.build(data, "docx")
        took = time.perf_counter() - started
        session.rollback()
    verdict = "ok" if took <= DOCX_SECONDS else "SLOW"
    name = f"DOCX, busiest province {province}, {last_month} ({len(content) // 1024} KB)"
    print(row(name, f"{took:.1f} s", f"<= {DOCX_SECONDS:.0f} s", f"{verdict} ({load()})"))


def synth_200k() -> None:
    """`gopy dev synth` of 200,000 tickets into a scratch database (tests/bench/bench_synth.py)."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "tests.bench.bench_synth", "--tickets", "200000"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    print(out.stdout.rstrip() or out.stderr[-2000:])


if __name__ == "__main__":
    main()
