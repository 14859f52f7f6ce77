"""(b) Redis is killed for a few seconds while citizens write: nothing acknowledged is lost or answered twice."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.backend.fault.conftest import TICKET_STEPS, Ledger
from tests.fakes.outage import LateTelegram, PrivateRedis
from tests.liveserver import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.pg, pytest.mark.redis]


def test_redis_killed_under_traffic(start_app: Any, telegram: LateTelegram, redis_server: PrivateRedis) -> None:
    telegram.up()
    ledger: Ledger = start_app()
    chats = list(range(601, 609))
    stop = threading.Event()

    def citizen(chat: int) -> None:
        for step in TICKET_STEPS:
            if stop.is_set():
                return
            ledger.post(chat, **step)
            time.sleep(0.3)  # a person typing; the outage falls in the middle of the conversations

    threads = [threading.Thread(target=citizen, args=(chat,)) for chat in chats]
    for t in threads:
        t.start()
    wait_for(lambda: len(ledger.acked) >= 10)
    redis_server.kill()
    down_at = time.monotonic()
    wait_for(lambda: time.monotonic() - down_at > 3 or not any(t.is_alive() for t in threads))
    redis_server.start()  # empty: --save '' --appendonly no (conversation states are lost, as they would be)
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert ledger.check()["repeated"] == 0
    ready = ledger.client.get("/readyz").json()
    assert ready["checks"] == {"database": True, "redis": True, "workers": True}, ready
