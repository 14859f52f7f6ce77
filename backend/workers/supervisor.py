"""Supervision of long-running background workers: a worker that dies is logged with its traceback at once and
started again after an exponential, capped backoff; its state is kept on a board that ``/readyz`` reports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


State = Literal["starting", "running", "restarting", "stopped"]
Run = Callable[[asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    """Restart delays: ``base``, doubling per failure in a row, at most ``cap`` seconds. A worker that ran for
    ``reset_after`` seconds before failing counts as healthy again and restarts after ``base``."""

    base: float = 1.0
    cap: float = 60.0
    reset_after: float = 120.0

    def delay(self, failures: int) -> float:
        return float(min(self.cap, self.base * 2 ** max(failures - 1, 0)))


@dataclass
class WorkerStatus:
    name: str
    state: State = "starting"
    restarts: int = 0
    started_at: datetime | None = None
    last_error: str | None = None  # the exception's type only: /readyz is public, messages may carry addresses
    last_error_at: datetime | None = None
    restart_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "state": self.state,
            "restarts": self.restarts,
            "started_at": iso(self.started_at),
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
            "restart_at": iso(self.restart_at),
        }


@dataclass
class WorkerBoard:
    """The workers this process runs and their states (written by the supervisor, read by ``/readyz``)."""

    workers: dict[str, WorkerStatus] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, name: str) -> WorkerStatus:
        with self.lock:
            status = self.workers[name] = WorkerStatus(name)
            return status

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {name: w.as_dict() for name, w in self.workers.items()}

    def all_running(self) -> bool:
        with self.lock:
            return bool(self.workers) and all(w.state == "running" for w in self.workers.values())


async def supervise(name: str, run: Run, stop: asyncio.Event, status: WorkerStatus, backoff: Backoff) -> None:
    """Run ``run(stop)`` until ``stop`` is set, restarting it whenever it raises or returns early."""
    failures = 0
    try:
        while not stop.is_set():
            status.state, status.started_at, status.restart_at = "running", utcnow(), None
            started = time.monotonic()
            try:
                await run(stop)
            except Exception as exc:
                log.error("worker %s died: %s: %s", name, type(exc).__name__, exc, exc_info=exc)
                status.last_error = type(exc).__name__
            else:
                if stop.is_set():
                    break
                log.error("worker %s stopped although nobody told it to", name)
                status.last_error = "returned"
            status.last_error_at = utcnow()
            failures = 1 if time.monotonic() - started >= backoff.reset_after else failures + 1
            delay = backoff.delay(failures)
            status.state, status.restart_at = "restarting", utcnow() + timedelta(seconds=delay)
            log.warning("restarting worker %s in %.1f s (failure %d in a row)", name, delay, failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if not stop.is_set():
                status.restarts += 1
    finally:
        status.state, status.restart_at = "stopped", None
