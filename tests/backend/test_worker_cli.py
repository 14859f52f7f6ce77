"""``gopy worker --only``: a process that only moves messages while another runs the periodic jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import backend.workers.runner as runner
from backend.cli import app
from backend.config import get_settings


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("GOPY_DATABASE_URL", f"sqlite:///{tmp_path / 'g.db'}")
    monkeypatch.setenv("GOPY_REDIS_URL", "")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_only_the_named_workers_run(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []

    async def fake_run(container: Any, stop: asyncio.Event, workers: Any = None, backoff: Any = None) -> None:
        ran.append([name for name, _ in workers])

    monkeypatch.setattr(runner, "run_workers", fake_run)
    result = CliRunner().invoke(app, ["worker", "--only", "inbound, outbox"])
    assert result.exit_code == 0, result.output
    assert ran == [["outbox", "inbound"]]  # in the runner's order
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 0, result.output
    assert ran[-1] == [name for name, _ in runner.WORKERS]  # all by default


def test_an_unknown_worker_is_refused_with_the_known_names() -> None:
    result = CliRunner().invoke(app, ["worker", "--only", "inbound,reportz"])
    assert result.exit_code == 2
    assert "reportz" in result.output and "rollups" in result.output
