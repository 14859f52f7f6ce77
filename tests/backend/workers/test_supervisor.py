"""Supervised workers: one that dies is logged at once and restarted with backoff; /readyz reports it. A platform
that is unreachable at start does not stop the workers: what arrived meanwhile is answered once it is back."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.workers import runner
from backend.workers.supervisor import Backoff, WorkerStatus, supervise
from tests.fakes.outage import LateTelegram, late_telegram
from tests.liveserver import wait_for

SECRET = "webhook-Secret_123"


def test_backoff_doubles_and_is_capped() -> None:
    backoff = Backoff(base=1.0, cap=8.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


async def test_a_worker_that_dies_is_logged_at_once_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    runs: list[float] = []

    async def flaky(stop: asyncio.Event) -> None:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) <= 3:
            raise RuntimeError(f"boom {len(runs)}")
        await stop.wait()

    status = WorkerStatus("flaky")
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(supervise("flaky", flaky, stop, status, Backoff(base=0.05, cap=0.1)))
    for _ in range(200):
        if status.state == "running" and len(runs) == 4:
            break
        await asyncio.sleep(0.02)
    assert len(runs) == 4 and status.state == "running" and status.restarts == 3
    assert status.last_error == "RuntimeError"
    died = [r for r in caplog.records if r.levelno == logging.ERROR and "worker flaky died" in r.getMessage()]
    assert len(died) == 3 and all(r.exc_info is not None for r in died)  # with the traceback
    assert "boom 1" in died[0].getMessage()
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert gaps[0] >= 0.045 and gaps[1] >= 0.095 and gaps[2] >= 0.095  # 0.05, 0.1, then capped at 0.1
    stop.set()
    await asyncio.wait_for(task, 5)
    assert status.as_dict()["state"] == "stopped"


async def test_a_worker_that_returns_early_is_restarted(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    runs = 0

    async def quitter(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs > 1:
            await stop.wait()

    status = WorkerStatus("quitter")
    task = asyncio.create_task(supervise("quitter", quitter, stop, status, Backoff(base=0.01)))
    for _ in range(200):
        if runs == 2:
            break
        await asyncio.sleep(0.02)
    assert runs == 2 and status.last_error == "returned"
    assert any("quitter stopped although nobody told it" in r.getMessage() for r in caplog.records)
    stop.set()
    await asyncio.wait_for(task, 5)


@pytest.fixture
def app_with(tmp_path: Path, trained_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start the app (workers inside) with the given extra workers and settings."""
    clients: list[tuple[TestClient, Container]] = []

    def start(
        extra: list[tuple[str, runner.WorkerFactory]], backoff: Backoff, **kw: Any
    ) -> tuple[TestClient, Container]:
        monkeypatch.setattr(runner, "WORKERS", [*runner.WORKERS, *extra])
        monkeypatch.setattr(runner, "BACKOFF", backoff)
        settings = Settings(
            _env_file=None,
            environment="test",
            database_url=f"sqlite:///{tmp_path / 'gopy.db'}",
            redis_url="",
            model_dir=trained_model_dir,
            **kw,
        )
        container = Container(settings)
        client = TestClient(create_app(settings, container))
        client.__enter__()
        clients.append((client, container))
        return client, container

    yield start
    for client, container in clients:
        client.__exit__(None, None, None)
        container.close()


def test_readyz_reports_a_crashed_worker_until_it_runs_again(app_with: Any, caplog: pytest.LogCaptureFixture) -> None:
    healthy = threading.Event()

    async def crashes_once(_container: Container, stop: asyncio.Event) -> None:
        if not healthy.is_set():
            healthy.set()
            raise ConnectionError("lost the connection")
        await stop.wait()

    client, _ = app_with([("flaky", crashes_once)], Backoff(base=2.0, cap=2.0))
    wait_for(lambda: client.get("/readyz").status_code == 503)
    body = client.get("/readyz").json()
    assert body["status"] == "unavailable" and body["checks"]["workers"] is False
    assert body["workers"]["flaky"]["state"] == "restarting"
    assert body["workers"]["flaky"]["last_error"] == "ConnectionError"
    assert body["workers"]["outbox"]["state"] == "running"  # the others are not disturbed
    assert any("worker flaky died" in r.getMessage() and r.exc_info for r in caplog.records)

    wait_for(lambda: client.get("/readyz").status_code == 200)
    body = client.get("/readyz").json()
    assert body["checks"] == {"database": True, "redis": True, "workers": True}
    assert {name: w["state"] for name, w in body["workers"].items()} == {name: "running" for name, _ in runner.WORKERS}
    assert body["workers"]["flaky"]["restarts"] == 1


def _update(uid: int, text: str, chat: int = 4242) -> dict[str, Any]:
    return {
        "update_id": uid,
        "message": {
            "message_id": uid,
            "date": 1800000000,
            "text": text,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "Hùng"},
        },
    }


def test_telegram_down_at_start_does_not_stop_the_workers(app_with: Any) -> None:
    with late_telegram() as late:
        late: LateTelegram  # type: ignore[no-redef]
        client, _ = app_with(
            [],
            Backoff(base=0.2, cap=0.2),
            telegram_token=late.fake.token,
            telegram_secret=SECRET,
            telegram_api_url=late.base_url,
            outbox_base_delay=0.1,
            outbox_max_delay=0.5,
            outbox_max_attempts=100,
        )
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        for uid in (1, 2):  # acknowledged while Telegram is down
            r = client.post("/webhooks/telegram", json=_update(uid, "xin chào", chat=100 + uid), headers=headers)
            assert r.status_code == 200 and r.json()["outcome"] == "accepted"
        ready = client.get("/readyz").json()
        assert ready["checks"]["workers"] is True, ready  # nothing crashed waiting for Telegram

        late.up()
        wait_for(lambda: {str(c["chat_id"]) for c in late.fake.sent()} == {"101", "102"}, seconds=30)
        assert late.fake.sent("getMe") != []  # the sender connected once Telegram was there
        greetings = [c for c in late.fake.sent() if c["text"].startswith("Xin chào Ông/Bà")]
        assert sorted(str(c["chat_id"]) for c in greetings) == ["101", "102"]  # each answered once
