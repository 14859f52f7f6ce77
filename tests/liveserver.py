"""Run an ASGI app under a real uvicorn server on 127.0.0.1 in a background thread (for browser/e2e tests)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from backend.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def wait_for(predicate: Any, seconds: float = 20) -> None:
    """Poll ``predicate`` until it is true (background workers deliver asynchronously); fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def log_in(page: Any, url: str, username: str, password: str = "mat-khau-123") -> None:
    """Submit the console's login form (already open in ``page``) and wait for the ticket list."""
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/console")


def embedded_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """A test server's settings on the embedded default: its own SQLite database and model folder under ``tmp_path``,
    no ``.env`` read, no background workers unless ``run_workers=True`` is given."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": f"sqlite:///{tmp_path / 'gopy.db'}",
        "model_dir": tmp_path / "models",
        "run_workers": False,
        **overrides,
    }
    return Settings(_env_file=None, **values)
