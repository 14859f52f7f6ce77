"""(a) The platform API is unreachable when gopy starts: webhooks are still acknowledged, the workers keep running,
and everything stored meanwhile is answered once the platform is back."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backend.fault.conftest import CODE, TICKET_STEPS, converse
from tests.fakes.outage import LateTelegram
from tests.liveserver import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.pg, pytest.mark.redis]


def test_platform_down_at_start(start_app: Any, telegram: LateTelegram) -> None:
    ledger = start_app()
    chats = [501, 502, 503]
    for chat in chats:  # whole conversations arrive while Telegram is down
        converse(ledger, chat, TICKET_STEPS)
    assert len(ledger.acked) == len(chats) * len(TICKET_STEPS) and ledger.refused == 0
    # the conversations are processed (replies wait in the outbox), the workers did not stop
    wait_for(lambda: ledger.client.get("/readyz").status_code == 200)
    ready = ledger.client.get("/readyz").json()
    assert {w["state"] for w in ready["workers"].values()} == {"running"}

    telegram.up()
    for chat in chats:
        wait_for(lambda chat=chat: any(CODE.search(t) for t in ledger.texts_to(chat)), seconds=60)
    outcome = ledger.check()
    assert outcome["tickets"] == len(chats) and outcome["codes_given"] == len(chats)
    assert telegram.fake.sent("getMe") != []
