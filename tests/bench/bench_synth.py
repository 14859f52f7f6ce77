"""Synthetic data benchmark: `gopy dev synth` into a fresh database with the real organisation tree (1 + 34 + 3,321
committees), then the figure beside its target.

    .venv/bin/python -m tests.bench.bench_synth                                   # PostgreSQL (COPY), 200,000 tickets
    .venv/bin/python -m tests.bench.bench_synth --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m tests.bench.bench_synth --sqlite --tickets 50000         # SQLite (executemany)

Target (issue #13): 200,000 tickets (with their citizens, events and messages) in under a minute on PostgreSQL.
The machine's load average is printed too: on a shared machine the wall-clock figure depends on it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from backend.db.migrate import upgrade
from backend.db.models import Ticket, TicketEvent
from backend.db.session import make_engine, make_session_factory
from backend.services.synth import synthesize
from backend.services.units import seed_units
from tests.bench.common import row

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def run(url: str, tickets: int, seed: int, months: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        seed_units(session)
        session.commit()
    load_before = os.getloadavg()[0]
    cpu_before = time.process_time()
    result = synthesize(engine, tickets, seed=seed, months=months)
    cpu = time.process_time() - cpu_before
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Ticket)) or 0
        events = conn.scalar(select(func.count()).select_from(TicketEvent)) or 0
    engine.dispose()
    target = 60.0 * tickets / 200_000
    print(f"\ngopy dev synth on {engine.dialect.name}: {tickets:,} tickets over {months} months (seed {seed})")
    print(row("tickets stored", f"{stored:,}", f"= {tickets:,}", "ok" if stored == tickets else "MISSING"))
    print(row("citizens / events / messages", f"{result.citizens:,} / {events:,} / {result.messages:,}"))
    print(row("overdue / urgent", f"{result.overdue:,} / {result.urgent:,}"))
    verdict = "ok" if result.seconds <= target else "SLOW"
    print(row("wall time", f"{result.seconds:.1f} s", f"< {target:.0f} s", verdict))
    print(row("tickets per second", f"{result.per_second:,.0f}", f"> {tickets / target:,.0f}/s"))
    print(row("CPU time of this process (generation + sending)", f"{cpu:.1f} s"))
    print(row("load average before / after (1 min)", f"{load_before:.1f} / {os.getloadavg()[0]:.1f}"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL admin URL (a scratch database is created, dropped)")
    ap.add_argument("--sqlite", action="store_true", help="use a scratch SQLite file instead of PostgreSQL")
    ap.add_argument("--tickets", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--months", type=int, default=12)
    args = ap.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.tickets, args.seed, args.months)
        return
    name = f"gopy_bench_synth_{secrets.token_hex(4)}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        run(args.pg.rsplit("/", 1)[0] + f"/{name}", args.tickets, args.seed, args.months)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
