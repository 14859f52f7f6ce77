"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend.api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(container: ContainerDep) -> JSONResponse:
    """The database and Redis are reachable and, in a process that runs the background workers, every worker is
    running (not crashed and waiting to restart, not stopped)."""
    checks: dict[str, bool] = {"database": container.db_ok(), "redis": container.kv.ping()}
    body: dict[str, Any] = {"redis_embedded": container.kv.embedded}
    if container.settings.run_workers:
        checks["workers"] = container.workers.all_running()
        body["workers"] = container.workers.snapshot()
    ok = all(checks.values())
    body = {"status": "ok" if ok else "unavailable", "checks": checks, **body}
    return JSONResponse(body, status_code=200 if ok else 503)
