"""(d) A worker process is killed (SIGKILL) in the middle of a send, while the platform is slow to answer, and
another worker takes over: the message in flight is delivered again at most once more (the documented
at-least-once window: the outbox lease), everything else exactly once, nothing acknowledged is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from backend.config import Settings
from backend.db.models import Message, OutboxItem, utcnow
from tests.backend.fault.conftest import CODE, TICKET_STEPS, Ledger, converse
from tests.fakes.outage import LateTelegram
from tests.liveserver import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.pg, pytest.mark.redis]


def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOPY_")}
    for name in (
        "environment",
        "database_url",
        "redis_url",
        "model_dir",
        "bootstrap_model",
        "telegram_token",
        "telegram_secret",
        "telegram_api_url",
        "outbox_base_delay",
        "outbox_max_delay",
        "outbox_max_attempts",
    ):
        env[f"GOPY_{name.upper()}"] = str(getattr(settings, name))
    env["GOPY_AUTO_MIGRATE"] = "false"
    return env


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def start_worker(settings: Settings, started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    gopy = Path(sys.executable).parent / "gopy"
    process = subprocess.Popen([str(gopy), "worker"], env=worker_env(settings), cwd=Path(__file__).parents[3])
    started.append(process)
    return process


def test_worker_killed_in_the_middle_of_a_send(
    start_app: Any, telegram: LateTelegram, workers: list[subprocess.Popen[bytes]]
) -> None:
    telegram.up()
    ledger: Ledger = start_app(run_workers=False)  # API processes only acknowledge and store
    settings = ledger.container.settings
    first = start_worker(settings, workers)
    chats = [801, 802, 803]
    for chat in chats:
        converse(ledger, chat, TICKET_STEPS[:2])
    wait_for(lambda: all(any("Cảm ơn" in t for t in ledger.texts_to(c)) for c in chats), seconds=60)

    telegram.fake.answer_delay = 4.0  # Telegram takes its time: the next sends hang
    for chat in chats:
        ledger.post(chat, **TICKET_STEPS[2])
    wait_for(lambda: telegram.fake.in_flight >= 1, seconds=60)
    first.send_signal(signal.SIGKILL)  # killed while waiting for Telegram's answer
    first.wait(timeout=10)
    with ledger.container.scope() as s:
        in_flight = set(
            s.scalars(select(OutboxItem.id).where(OutboxItem.status == "pending", OutboxItem.locked_until.is_not(None)))
        )
    assert in_flight, "the killed worker held no lease"
    telegram.fake.answer_delay = 0.0

    # The dead worker's leases run out after outbox.LEASE (and the intake's); let that time pass at once.
    with ledger.container.scope() as s:
        past = utcnow() - timedelta(seconds=1)
        s.execute(update(OutboxItem).where(OutboxItem.locked_until.is_not(None)).values(locked_until=past))
        s.execute(update(Message).where(Message.locked_until.is_not(None)).values(locked_until=past))
        s.commit()
    start_worker(settings, workers)
    for chat in chats:
        converse(ledger, chat, TICKET_STEPS[3:])
    for chat in chats:
        wait_for(lambda chat=chat: any(CODE.search(t) for t in ledger.texts_to(chat)), seconds=60)
    outcome = ledger.check(may_repeat=in_flight)
    assert outcome["tickets"] == len(chats)
    assert 1 <= outcome["repeated"] <= len(in_flight)  # the send cut off by the kill went out again, once
