"""(c) PostgreSQL drops every connection of the app (``pg_terminate_backend``) while citizens write: the workers
reconnect and carry on; nothing acknowledged is lost or answered twice, no ticket lost."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.backend.fault.conftest import TICKET_STEPS, Ledger
from tests.fakes.outage import LateTelegram
from tests.liveserver import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.pg, pytest.mark.redis]


def terminate_connections(admin_url: str, database: str) -> int:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                ).all()
            )
    finally:
        engine.dispose()


def test_postgres_connections_dropped_under_traffic(
    start_app: Any, telegram: LateTelegram, pg_url: str, pg_admin_url: str
) -> None:
    telegram.up()
    ledger: Ledger = start_app()
    chats = list(range(701, 709))
    database = pg_url.rsplit("/", 1)[1]

    def citizen(chat: int) -> None:
        for step in TICKET_STEPS:
            ledger.post(chat, **step)
            time.sleep(0.3)

    threads = [threading.Thread(target=citizen, args=(chat,)) for chat in chats]
    for t in threads:
        t.start()
    dropped = 0
    for _ in range(4):  # several times, so some drops hit connections in the middle of work
        seen = len(ledger.acked)
        wait_for(lambda seen=seen: len(ledger.acked) >= seen + 4 or not any(t.is_alive() for t in threads))
        dropped += terminate_connections(pg_admin_url, database)
    for t in threads:
        t.join(timeout=60)
    assert dropped > 0
    assert ledger.check()["repeated"] == 0
    ready = ledger.client.get("/readyz").json()
    assert ready["checks"] == {"database": True, "redis": True, "workers": True}, ready
